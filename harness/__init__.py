"""scalecheck: prove that a SageMaker endpoint autoscales the way you think it does."""

__version__ = "0.1.0"
