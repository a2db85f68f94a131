"""The adversarial suite: one test per security finding, failing on the code before its fix."""
