-- The queue fleet app keeps nothing in the app database.
SELECT 1;
