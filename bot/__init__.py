"""careerbot core: platform-neutral commands answered from curated knowledge."""

__version__ = "0.1.0"
