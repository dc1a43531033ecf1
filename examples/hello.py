class Stack:
    """A last-in, first-out stack."""

    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.app<FILL>

    def pop(self):
        return self.items.pop()
