"""Split PostgreSQL SQL text into statements, the way psql does.

The runner executes non-transactional migrations one statement at a time, and the linter reads
DDL statement by statement, so both need to know where a statement really ends: a `;` inside a
comment, a string, a quoted identifier or a dollar-quoted function body does not end one.

`tokenize` is a small lexer (enough for splitting and for pattern checks on DDL, not a parser);
`split_statements` groups its tokens into statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = "word"  # unquoted identifier or keyword
QUOTED = "quoted"  # "quoted identifier"
STRING = "string"  # '...', E'...', B'...', X'...', N'...', U&'...'
DOLLAR = "dollar"  # $$ ... $$ or $tag$ ... $tag$
NUMBER = "number"
COMMENT = "comment"  # -- line comment or /* block comment */
PUNCT = "punct"  # any other single character: ( ) , ; . :: operators ...

# `-- migrate:only postgres` (or duckdb) in the comments before a statement: see Statement.only.
ONLY_MARKER = re.compile(r"^--\s*migrate:only\s+(?P<engine>postgres|duckdb)\s*$", re.IGNORECASE)
# PostgreSQL identifiers: a letter, underscore or non-ASCII character, then also digits and `$`.
_WORD_START = re.compile(r"[A-Za-z_\u0080-\U0010ffff]")
_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
# A dollar-quote tag is like an identifier but without `$`; `$1` is a parameter, not a quote.
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WHITESPACE = re.compile(r"\s+")
# Letters that may prefix a string constant with no space between: E'..' (escapes), B'..' (bits),
# X'..' (hex), N'..' (national), U&'..' (unicode escapes; U&".." is an identifier).
_STRING_PREFIXES = {"e", "b", "x", "n"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int  # 1-based line where the token starts
    start: int  # offset of the token in the text given to tokenize
    end: int

    def is_word(self, *words: str) -> bool:
        """True for an unquoted keyword/identifier equal (case-insensitively) to one of `words`."""
        return self.kind == WORD and self.text.lower() in words


@dataclass(frozen=True)
class Statement:
    text: str  # from the first token to the last one before `;`; inner comments stay
    line: int  # 1-based line of the first token that is not a comment
    # The one engine this statement is for (`-- migrate:only postgres` in the comments just before
    # it), or None for every engine. The analytics target runs one set of files on DuckDB or
    # PostgreSQL; statements only one of them has (roles, GRANT) say so.
    only: str | None = None

    def runs_on(self, engine: str) -> bool:
        return self.only is None or self.only == engine


def tokenize(text: str, first_line: int = 1) -> list[Token]:
    """Every token in `text` (comments included, whitespace left out), with its line."""
    tokens: list[Token] = []
    position, line = 0, first_line
    while position < len(text):
        space = _WHITESPACE.match(text, position)
        if space:
            line += space.group().count("\n")
            position = space.end()
            continue
        kind, end = _scan_token(text, position)
        token_text = text[position:end]
        tokens.append(Token(kind, token_text, line, position, end))
        line += token_text.count("\n")
        position = end
    return tokens


def split_statements(text: str) -> list[Statement]:
    """The statements in `text`, in order; statements that hold only comments are skipped."""
    statements: list[Statement] = []
    pending: list[Token] = []
    only: str | None = None  # from a marker comment before the pending statement's first token
    block = _BlockTracker()
    for token in tokenize(text):
        if token.kind == COMMENT:
            marker = ONLY_MARKER.match(token.text)
            if marker and not pending:
                only = marker["engine"].lower()
            continue
        if token.text == ";" and block.at_top_level():
            _flush(text, pending, statements, only)
            pending, block, only = [], _BlockTracker(), None
            continue
        pending.append(token)
        block.feed(token)
    _flush(text, pending, statements, only)
    return statements


# Statements that begin, end or abandon a transaction: in a file the runner wraps in one, they
# would split it. ROLLBACK TO [SAVEPOINT] stays inside the transaction and is fine.
_TRANSACTION_CONTROL = {"begin", "start", "commit", "end", "rollback", "abort", "prepare"}


def transaction_control_lines(text: str) -> list[tuple[int, str]]:
    """(line, keyword) of each statement in `text` that starts, commits, rolls back or prepares
    a transaction; the words inside function bodies and strings do not count."""
    found: list[tuple[int, str]] = []
    for statement in split_statements(text):
        words = [t.text.lower() for t in tokenize(statement.text) if t.kind != COMMENT][:2]
        if not words or words[0] not in _TRANSACTION_CONTROL:
            continue
        if words[0] == "start" and words[1:] != ["transaction"]:
            continue
        if words[0] == "prepare" and words[1:] != ["transaction"]:
            continue  # PREPARE name AS ... is a prepared statement
        if words[0] == "rollback" and words[1:] == ["to"]:
            continue
        found.append(
            (
                statement.line,
                " ".join(words if words[0] in ("start", "prepare") else words[:1]).upper(),
            )
        )
    return found


def _flush(text: str, pending: list[Token], statements: list[Statement], only: str | None) -> None:
    if pending:
        statements.append(
            Statement(text[pending[0].start : pending[-1].end], pending[0].line, only)
        )


class _BlockTracker:
    """Decides whether a `;` ends the statement, with psql's own rules.

    psql ignores `;` inside parentheses, and inside the BEGIN ... END of a SQL-standard function
    body (`CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ...; ...; END`). CASE ... END
    inside such a body nests, so it is counted too.
    """

    def __init__(self) -> None:
        self.paren_depth = 0
        self.begin_depth = 0
        self.leading_words: list[str] = []

    def at_top_level(self) -> bool:
        return self.paren_depth == 0 and self.begin_depth == 0

    def feed(self, token: Token) -> None:
        if token.text == "(":
            self.paren_depth += 1
        elif token.text == ")":
            self.paren_depth = max(0, self.paren_depth - 1)
        elif token.kind == WORD:
            self._feed_word(token.text.lower())

    def _feed_word(self, word: str) -> None:
        if len(self.leading_words) < 4:
            self.leading_words.append(word)
        if not self._in_routine_definition() or self.paren_depth:
            return
        opens_block = word == "begin" or (word == "case" and self.begin_depth)
        if opens_block:
            self.begin_depth += 1
        elif word == "end" and self.begin_depth:
            self.begin_depth -= 1

    def _in_routine_definition(self) -> bool:
        words = self.leading_words
        if words[:3] == ["create", "or", "replace"]:
            words = ["create", *words[3:]]
        return words[:2] in (["create", "function"], ["create", "procedure"])


def _scan_token(text: str, position: int) -> tuple[str, int]:
    """The kind and end offset of the token starting at `position`."""
    char = text[position]
    pair = text[position : position + 2]
    if pair == "--":
        newline = text.find("\n", position)
        return COMMENT, len(text) if newline == -1 else newline
    if pair == "/*":
        return COMMENT, _block_comment_end(text, position)
    if char == "'":
        return STRING, _quoted_end(text, position + 1, "'", backslash_escapes=False)
    if char == '"':
        return QUOTED, _quoted_end(text, position + 1, '"', backslash_escapes=False)
    if char == "$":
        tag = _DOLLAR_TAG.match(text, position)
        if tag:
            closing = text.find(tag.group(), tag.end())
            return DOLLAR, len(text) if closing == -1 else closing + len(tag.group())
    if _WORD_START.match(char):
        return _scan_word_or_prefixed_string(text, position)
    number = _NUMBER.match(text, position)
    if number:
        return NUMBER, number.end()
    return PUNCT, position + 1


def _scan_word_or_prefixed_string(text: str, position: int) -> tuple[str, int]:
    word_end = _WORD.match(text, position).end()
    word = text[position:word_end].lower()
    following = text[word_end : word_end + 2]
    if word in _STRING_PREFIXES and following[:1] == "'":
        escapes = word == "e"  # only E'...' strings treat backslash as an escape
        return STRING, _quoted_end(text, word_end + 1, "'", backslash_escapes=escapes)
    if word == "u" and following in ("&'", '&"'):
        kind = STRING if following == "&'" else QUOTED
        return kind, _quoted_end(text, word_end + 2, following[1], backslash_escapes=False)
    return WORD, word_end


def _quoted_end(text: str, position: int, quote: str, *, backslash_escapes: bool) -> int:
    """Offset just past the closing quote; a doubled quote is an escaped one. Unterminated: EOF."""
    while position < len(text):
        char = text[position]
        escaped = backslash_escapes and char == "\\"
        doubled = char == quote and text[position + 1 : position + 2] == quote
        if escaped or doubled:
            position += 2
        elif char == quote:
            return position + 1
        else:
            position += 1
    return len(text)


def _block_comment_end(text: str, position: int) -> int:
    """Offset just past a /* */ comment; PostgreSQL block comments nest. Unterminated: EOF."""
    depth = 0
    while position < len(text):
        pair = text[position : position + 2]
        if pair == "/*":
            depth += 1
            position += 2
        elif pair == "*/":
            depth -= 1
            position += 2
            if depth == 0:
                return position
        else:
            position += 1
    return len(text)
