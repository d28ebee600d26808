"""Where batches go: the database (binary COPY, idempotent) or, while it is unreachable, the
durable on-disk spool that is replayed when it returns."""
