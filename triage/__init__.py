"""The triage model: scikit-learn pipeline, metrics, artifacts (workflows never import it)."""
