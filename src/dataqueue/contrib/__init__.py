"""dataqueue inside web frameworks: Django, FastAPI/Starlette and Flask.

Each integration is built on the public API only (``dataqueue.connect``,
``JobQueue``/``SyncJobQueue`` and the command line)."""
