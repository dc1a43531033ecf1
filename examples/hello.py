def mean(numbers):
    """Return the arithmetic mean of a non-empty list of numbers."""
    total = sum(numbers)
    <FILL>


if __name__ == "__main__":
    print(mean([1, 2, 3, 4]))
