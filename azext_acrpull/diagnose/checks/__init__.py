"""Check functions, one module per cause of the article; ``catalog.py`` lists them in the contract's order."""
