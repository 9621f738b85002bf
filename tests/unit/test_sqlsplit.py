"""split_statements / tokenize: where statements end, and on which line they start."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.lib.migrations.sqlsplit import (
    COMMENT,
    DOLLAR,
    QUOTED,
    STRING,
    WORD,
    Statement,
    split_statements,
    tokenize,
)


def texts(sql: str) -> list[str]:
    return [statement.text for statement in split_statements(sql)]


def test_splits_on_semicolons_and_drops_the_semicolon():
    assert texts("SELECT 1; SELECT 2;") == ["SELECT 1", "SELECT 2"]


def test_last_statement_needs_no_semicolon():
    assert texts("SELECT 1;\nSELECT 2\n") == ["SELECT 1", "SELECT 2"]


def test_empty_statements_and_blank_text_are_skipped():
    assert texts(";;  ;\n\n SELECT 1;;\n;") == ["SELECT 1"]
    assert split_statements("") == []
    assert split_statements("   \n\t ") == []


def test_comment_only_text_has_no_statements():
    assert split_statements("-- nothing here;\n/* nor; here */\n") == []


def test_statement_line_is_its_first_token_after_leading_comments():
    sql = "-- header\n\n/* block\n comment */ CREATE TABLE t (id int);\n\n  SELECT\n 1;"
    assert split_statements(sql) == [
        Statement("CREATE TABLE t (id int)", 4),
        Statement("SELECT\n 1", 6),
    ]


def test_comments_inside_a_statement_stay_trailing_ones_go():
    sql = "SELECT 1 -- one\n + 2 /* two */ -- end\n;"
    assert texts(sql) == ["SELECT 1 -- one\n + 2"]


def test_semicolon_in_line_comment():
    sql = "SELECT 1 -- not the end; really\n, 2;"
    assert texts(sql) == ["SELECT 1 -- not the end; really\n, 2"]


def test_semicolons_in_nested_block_comments():
    # PostgreSQL block comments nest: the first */ does not close the outer comment.
    sql = "SELECT 1 /* outer ; /* inner ; */ still comment ; */ + 1; SELECT 2;"
    assert texts(sql) == ["SELECT 1 /* outer ; /* inner ; */ still comment ; */ + 1", "SELECT 2"]


def test_comment_markers_inside_strings_are_text():
    assert texts("SELECT '-- not a comment;', '/* nor; this'; SELECT 2") == [
        "SELECT '-- not a comment;', '/* nor; this'",
        "SELECT 2",
    ]


def test_semicolons_in_single_quoted_strings_with_doubled_quotes():
    assert texts("INSERT INTO t VALUES ('it''s; fine'); SELECT 1") == [
        "INSERT INTO t VALUES ('it''s; fine')",
        "SELECT 1",
    ]


def test_backslash_escapes_only_in_e_strings():
    # In E'...' a \' is an escaped quote; in a standard string a backslash is just a character.
    assert texts(r"SELECT E'a\'; b'; SELECT 'c\'; SELECT 3") == [
        r"SELECT E'a\'; b'",
        r"SELECT 'c\'",
        "SELECT 3",
    ]


def test_semicolons_in_quoted_identifiers():
    assert texts('CREATE TABLE "a;b" ("x"";y" int); SELECT 1') == [
        'CREATE TABLE "a;b" ("x"";y" int)',
        "SELECT 1",
    ]


def test_dollar_quoted_function_body():
    sql = (
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\n"
        "BEGIN\n  PERFORM 1; RETURN 2;\nEND;\n$$;\n"
        "SELECT f();"
    )
    statements = split_statements(sql)
    assert [s.line for s in statements] == [1, 6]
    assert statements[0].text.endswith("END;\n$$")
    assert statements[1].text == "SELECT f()"


def test_tagged_dollar_quotes_may_contain_other_dollar_quotes():
    sql = "DO $outer$ BEGIN EXECUTE $$SELECT ';'$$; END $outer$; SELECT 2"
    assert texts(sql) == ["DO $outer$ BEGIN EXECUTE $$SELECT ';'$$; END $outer$", "SELECT 2"]


def test_dollar_parameters_and_identifiers_with_dollars_are_not_quotes():
    assert texts("PREPARE p AS SELECT $1; SELECT a$b$ FROM t; SELECT 3") == [
        "PREPARE p AS SELECT $1",
        "SELECT a$b$ FROM t",
        "SELECT 3",
    ]


def test_multi_line_statement_lines_are_counted_through_strings_and_bodies():
    sql = "SELECT 'a\nb\nc';\nDO $$\n;\n$$;\n/* x\n*/\nSELECT 4;"
    assert [s.line for s in split_statements(sql)] == [1, 4, 9]


def test_sql_standard_function_body_is_one_statement():
    # PostgreSQL 14+ BEGIN ATOMIC ... END bodies hold `;` (psql keeps them together too).
    sql = (
        "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT x;\nEND;\n"
        "SELECT 1;"
    )
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[0].text.endswith("SELECT x;\nEND")
    assert statements[1] == Statement("SELECT 1", 6)


def test_begin_outside_a_routine_definition_is_a_statement_of_its_own():
    assert texts("BEGIN; SELECT 1; END;") == ["BEGIN", "SELECT 1", "END"]


def test_semicolon_inside_parentheses_does_not_split():
    # psql does the same: an unbalanced `(` keeps the text together, the server reports it.
    assert texts("SELECT (1; SELECT 2); SELECT 3") == ["SELECT (1; SELECT 2)", "SELECT 3"]


@pytest.mark.parametrize(
    "sql",
    ["SELECT 'unterminated; SELECT 2", "SELECT $$ open; body", "SELECT 1 /* open; comment"],
)
def test_unterminated_quotes_and_comments_swallow_the_rest(sql):
    assert len(split_statements(sql)) == 1


def test_tokens_have_kinds_and_lines():
    tokens = tokenize('SELECT "Col", \'x\' -- c\n, $t$ body $t$ /* b */ FROM u&"t"')
    assert [(t.kind, t.line) for t in tokens] == [
        (WORD, 1),
        (QUOTED, 1),
        ("punct", 1),
        (STRING, 1),
        (COMMENT, 1),
        ("punct", 2),
        (DOLLAR, 2),
        (COMMENT, 2),
        (WORD, 2),
        (QUOTED, 2),
    ]


def test_prefixed_strings_are_single_tokens():
    tokens = tokenize("SELECT B'101', X'ff', N'n;', U&'d\\0061t;a'")
    strings = [t.text for t in tokens if t.kind == STRING]
    assert strings == ["B'101'", "X'ff'", "N'n;'", "U&'d\\0061t;a'"]


def test_tokenize_first_line_offsets_lines():
    assert [t.line for t in tokenize("a\nb", first_line=10)] == [10, 11]


# Pieces that each contain a `;` (or a quote) that must not end the statement around them.
_TRICKY_PIECES = [
    "'a;b'",
    "'it''s;'",
    "E'\\';'",
    '"x;""y"',
    "$$ ; ' $$",
    "$q$ $$ ; $q$",
    "/* c; /* n; */ ; */",
    "-- line; comment\n",
    "(1; 2)",
    "$1",
    "a$b",
]


@given(
    st.lists(
        st.lists(st.sampled_from(_TRICKY_PIECES), max_size=5),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([";", ";\n", " ;\n\n", ";\n-- between;\n", ";/* x; */"]),
)
def test_statements_built_from_tricky_pieces_round_trip(bodies, separator):
    statements = ["SELECT " + " ".join(pieces) + " 1" for pieces in bodies]
    assert texts(separator.join(statements) + separator) == statements
