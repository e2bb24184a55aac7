"""The labelling app: a person compares two text answers or two arm clips in a browser.

- `store`: every decision one appended, fsynced JSONL line, in the trainers' own format.
- `queue`: ``pairs.jsonl``, the pairs waiting for a person, re-read as it grows.
- `sources`: filling the queue from a data set, a model's samples, or a segments file.
- `clips`: arm clips as forward-kinematics frames for a canvas replay.
- `accuracy`: the reward model's accuracy on the human labels, for the statistics page.
- `server`: the FastAPI app and its access rules; ``static/`` holds the pages.
- `oracle`: waiting for a round's labels (quorum or timeout), for the training loops.
"""
