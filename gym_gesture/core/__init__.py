"""What every stage shares: the error types the user can act on and the package's file constants."""
