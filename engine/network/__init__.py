"""A model: Keras-style ops chained over an input, one of them the traced layer; what it reads and how it is opened."""
