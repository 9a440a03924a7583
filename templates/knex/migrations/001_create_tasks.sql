-- Applied once by `operon migrate` (and by the testing runtime), in its own transaction.
CREATE TABLE tasks (
  id SERIAL PRIMARY KEY,
  title TEXT NOT NULL UNIQUE
);
