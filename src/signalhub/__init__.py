"""signalhub: live, persisted signals from Temporal workflows to the people who started them."""

__version__ = "0.1.0"
