"""Pure rules of the product. Standard library only: nothing here does I/O."""
