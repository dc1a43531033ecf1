from infill.filters.clip import clip_lines


def test_clip_to_max_lines(request_at):
    _, request = request_at("def f():\n    █\n", "python", max_lines=2)
    assert request.mode == "block" and request.max_lines == 2
    assert clip_lines("a = 1\n    b = 2\n    c = 3", request) == "a = 1\n    b = 2\n"
    assert clip_lines("a = 1\n    b = 2", request) == "a = 1\n    b = 2"


def test_the_rest_of_an_opener_line_does_not_count(request_at):
    _, request = request_at("def f():█\n", "python", max_lines=2)
    assert clip_lines("\n    a = 1\n    b = 2\n    c = 3", request) == "\n    a = 1\n    b = 2\n"


def test_max_lines_one_turns_a_block_into_a_line(request_at):
    _, request = request_at("def f():\n    █\n", "python", max_lines=1)
    assert request.mode == "line" and request.max_lines == 1
    assert clip_lines("a = 1\n    b = 2", request) == "a = 1\n"
