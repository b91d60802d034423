"""Ximilar's Upscaler API (`/upscaler/{2x,4x,8x}/upscale`, synchronous) and its asynchronous
requests (`/account/v2/request`), served as Ximilar documents them: a client written for
Ximilar (its `ximilar-client` package, or plain HTTP) works with only the host and key
changed.

Each request becomes an ordinary precise job (jobs/submission.py) whose options (mode,
model_type, tune_colors) are engine steps (inference/finishing.py), charged from the same
ledger; the synchronous answer waits for it (jobs/completion.py). Answers and errors take
Ximilar's shapes (payloads.py, errors.py)."""
