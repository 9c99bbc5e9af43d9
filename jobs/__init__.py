"""What runs: job functions, the scheduler and the ``hashmon`` command line."""
