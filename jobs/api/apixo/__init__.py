"""APIXO's Image Upscaler task API (`/api/v1/generateTask/image-upscaler` and
`/api/v1/statusTask/image-upscaler`), served as APIXO documents it: a client written for
APIXO works with only the host and key changed.

Each task becomes an ordinary precise job (jobs/submission.py) whose output's long side is
the resolution tier's, charged from the same ledger; its status and its callback take
APIXO's envelope (payloads.py), its refusals APIXO's codes and words (errors.py, params.py)."""
