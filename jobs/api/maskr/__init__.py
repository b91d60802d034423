"""Maskr's image-upscaling API (`/v1/services/image-upscaling` and `/batch`), served as
Maskr documents it: a client written for Maskr works with only the host and key changed.

Each upload becomes an ordinary precise job (jobs/submission.py), charged from the same
ledger; the answer waits for it (jobs/completion.py) and takes Maskr's shapes and codes."""
