"""The report: the JSON model, its Markdown (comment, summary) and terminal renderings."""
