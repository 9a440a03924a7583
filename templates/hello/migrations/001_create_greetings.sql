-- Applied once by `operon migrate` (and by the testing runtime), in its own transaction.
CREATE TABLE greetings (
  id SERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  greeted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
