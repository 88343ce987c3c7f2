"""The trial lifecycle: states, typed records, and the one place they change.

- `states`: `TrialStatus`, `SearchStatus`, `StopCause` (the stored and JSON values).
- `records`: `SearchRecord`, `TrialRecord`, what the store reads and writes back.
- `transitions`: the transition table and every call that changes a state
  (assign, extend, report, stop, release, requeue, finish, fail, cancel;
  add_retests and reopen), with the lease rules.

Pure Python: the server's store (service.store) does the reading and writing.
"""
