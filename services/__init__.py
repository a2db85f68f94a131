"""Application services the API, the CLI, the workers and activities share: keyword-only verbs."""
