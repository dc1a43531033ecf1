from infill.filters.repetition import drop_repetition


def test_a_repeated_line_keeps_its_first_copy(request_at):
    _, request = request_at("def f():\n    █\n", "python")
    assert drop_repetition("x = 1\n    y = 2\n    y = 2\n    y = 2\n    y = 2", request) == "x = 1\n    y = 2"


def test_a_repeated_pair_of_lines_keeps_its_first_copy(request_at):
    _, request = request_at("int main(void) {\n    █\n}\n", "c")
    raw = "a();\n    b();\n    a();\n    b();\n    a();\n    b();"
    assert drop_repetition(raw, request) == "a();\n    b();"


def test_a_repeated_chunk_in_a_line_is_cut(request_at):
    _, request = request_at("x = █\n", "python")
    assert drop_repetition("foo(foo(foo(foo(foo(foo(foo(foo(", request) == "foo("


def test_rulers_and_short_repeats_are_kept(request_at):
    _, request = request_at("x = █\n", "python")
    for raw in ["'=' * 80 + '==========='", "[0, 0, 0]", "0x00000000", "a\na\nb", "\n\n\n\nx"]:
        assert drop_repetition(raw, request) == raw


def test_repeated_blank_lines_are_not_a_loop(request_at):
    _, request = request_at("def f():\n    █\n", "python")
    assert drop_repetition("a = 1\n\n\n\n    b = 2", request) == "a = 1\n\n\n\n    b = 2"
