"""Our own conventions for UP migrations, checked statement by statement.

Rules: `primary-key`, `snake-case`, `naming-prefix`, `partition-unique-key`, `drop-without-allow`
(UP files) and `transaction-marker` (both directions).
This reads the common DDL forms from tokens (see sqlsplit); it is not a SQL parser, and forms it
does not recognise are left alone rather than guessed at. `lint.py` is the entry point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dagster_project.lib.migrations.sqlsplit import (
    COMMENT,
    DOLLAR,
    PUNCT,
    QUOTED,
    STRING,
    WORD,
    Statement,
    Token,
    split_statements,
    tokenize,
)

SNAKE_CASE = re.compile(r"[a-z_][a-z0-9_]*")
# `-- lint:allow-drop <reason>` anywhere in the file: the reason is what a reviewer reads.
ALLOW_DROP = re.compile(r"--\s*lint:allow-drop\b[ \t]*(?P<reason>.*)$")
# `-- lint:allow-no-primary-key <reason>`: the file's tables may go without a primary key.
ALLOW_NO_PRIMARY_KEY = re.compile(r"--\s*lint:allow-no-primary-key\b[ \t]*(?P<reason>.*)$")
_DROP_IN_BODY = re.compile(r"\bdrop\b", re.IGNORECASE)
# Words that start a table constraint inside CREATE TABLE (...) or after ALTER TABLE ... ADD.
_TABLE_CONSTRAINT_START = {"constraint", "primary", "unique", "check", "foreign", "exclude"}
_UNIQUE_KINDS = ("primary key", "unique")


@dataclass(frozen=True)
class Finding:
    line: int
    rule: str
    message: str


@dataclass(frozen=True)
class PartitionKey:
    columns: tuple[str, ...]
    has_expression: bool  # PostgreSQL cannot enforce a unique key over an expression key


@dataclass(frozen=True)
class Name:
    """An identifier: `raw` is its text without quotes, `key` the name PostgreSQL stores."""

    raw: str
    quoted: bool
    line: int

    @property
    def key(self) -> str:
        return self.raw if self.quoted else self.raw.lower()

    def __str__(self) -> str:
        return f'"{self.raw}"' if self.quoted else self.raw


@dataclass
class Group:
    """A parenthesised part of a statement, its contents nested the same way."""

    items: list[Token | Group] = field(default_factory=list)


Item = Token | Group


@dataclass(frozen=True)
class Constraint:
    kind: str  # "primary key", "unique", "foreign key", "check", "exclude", "not null"
    name: Name | None
    columns: tuple[str | None, ...] | None  # key columns (None = an expression); None = unknown
    line: int


@dataclass
class UpFileChecker:
    """Checks one UP file. `partitioned` carries partitioned tables from earlier files onward."""

    partitioned: dict[str, PartitionKey]
    findings: list[Finding] = field(default_factory=list)
    tables_without_pk: dict[str, tuple[Name, int]] = field(default_factory=dict)

    def check(self, text: str) -> list[Finding]:
        statements = split_statements(text)
        for statement in statements:
            self._check_statement(statement)
        file_tokens = tokenize(text)
        reasons = allow_reasons(file_tokens, ALLOW_NO_PRIMARY_KEY)
        if not any(reasons):
            hint = "add a PRIMARY KEY column or constraint"
            if reasons:
                hint = "the -- lint:allow-no-primary-key comment needs a reason after it"
            for name, line in self.tables_without_pk.values():
                self._report(line, "primary-key", f"table {name} has no primary key ({hint})")
        self.findings += drop_findings(statements, file_tokens)
        return self.findings

    def _report(self, line: int, rule: str, message: str) -> None:
        self.findings.append(Finding(line, rule, message))

    def _check_statement(self, statement: Statement) -> None:
        tokens = [t for t in tokenize(statement.text, statement.line) if t.kind != COMMENT]
        items = _nest(tokens)
        if _starts_with_words(items, "alter", "table"):
            self._check_alter_table(items[2:])
        elif _starts_with_words(items, "alter", "index"):
            self._check_alter_index(items[2:])
        elif _starts_with_words(items, "create"):
            after_create = _skip_optional(items[1:], "global", "local", "temp", "temporary")
            after_create = _skip_optional(after_create, "unlogged")
            if _starts_with_words(after_create, "table"):
                self._check_create_table(after_create[1:], statement.line)
            elif _starts_with_words(_skip_optional(items[1:], "unique"), "index"):
                self._check_create_index(items[1:], statement.line)

    # -- CREATE TABLE -------------------------------------------------------------------------

    def _check_create_table(self, items: list[Item], line: int) -> None:
        rest = _skip_words(items, "if", "not", "exists")
        table, rest = _take_qualified_name(rest)
        if table is None:
            return
        self._check_snake(table, "table")
        is_partition = _starts_with_words(rest, "partition", "of")
        if is_partition:
            _, rest = _take_qualified_name(rest[2:])
        constraints: list[Constraint] = []
        if rest and isinstance(rest[0], Group):
            constraints = self._table_body_constraints(rest[0])
        self._record_partitioning(table, rest)
        self._check_constraints(table, constraints)
        has_pk = any(c.kind == "primary key" for c in constraints)
        if not (is_partition or has_pk):  # partitions inherit the parent's primary key
            self.tables_without_pk[table.key] = (table, line)

    def _table_body_constraints(self, body: Group) -> list[Constraint]:
        constraints: list[Constraint] = []
        for element in _split_commas(body.items):
            first = element[0] if element else None
            if _is_word(first, *_TABLE_CONSTRAINT_START):
                constraints += _constraints_in(element, column=None)
            elif _is_word(first, "like"):
                constraints += _constraints_copied_by_like(element)
            elif isinstance(first, Token) and first.kind in (WORD, QUOTED):
                column = _name(first)
                self._check_snake(column, "column")
                constraints += _constraints_in(element[1:], column=column)
        return constraints

    def _record_partitioning(self, table: Name, rest: list[Item]) -> None:
        for index in range(len(rest)):
            if _starts_with_words(rest[index:], "partition", "by"):
                key_group = next((i for i in rest[index + 3 :] if isinstance(i, Group)), None)
                if key_group is not None:
                    self.partitioned[table.key] = _partition_key(key_group)
                return
        # A plain CREATE TABLE replaces whatever an earlier file declared under this name.
        self.partitioned.pop(table.key, None)

    # -- CREATE INDEX -------------------------------------------------------------------------

    def _check_create_index(self, items: list[Item], line: int) -> None:
        unique = _starts_with_words(items, "unique")
        rest = _skip_optional(items[1:] if unique else items, "index", "concurrently")
        rest = _skip_words(rest, "if", "not", "exists")
        index_name = None
        if not _is_word(rest[0] if rest else None, "on"):
            index_name, rest = _take_qualified_name(rest)
        if index_name is None:
            self._report(line, "naming-prefix", "CREATE INDEX needs an explicit name (idx_...)")
        else:
            self._check_snake(index_name, "index")
            self._check_index_prefix(index_name, unique)
        rest = _skip_optional(rest, "on", "only")
        table, rest = _take_qualified_name(rest)
        columns_group = next((i for i in rest if isinstance(i, Group)), None)
        if unique and table is not None and columns_group is not None:
            columns = _key_columns(columns_group)
            self._check_partition_key(table, Constraint("unique", index_name, columns, line))

    def _check_index_prefix(self, name: Name, unique: bool) -> None:
        prefixes = ("idx_", "uq_") if unique else ("idx_",)
        if not name.key.startswith(prefixes):
            self._report(
                name.line, "naming-prefix", f"index {name} must start with {' or '.join(prefixes)}"
            )

    # -- ALTER TABLE / ALTER INDEX ------------------------------------------------------------

    def _check_alter_table(self, items: list[Item]) -> None:
        rest = _skip_optional(_skip_words(items, "if", "exists"), "only")
        table, rest = _take_qualified_name(rest)
        if table is None:
            return
        for action in _split_commas(rest):
            if _is_word(action[0] if action else None, "add"):
                self._check_add(table, action[1:])
            elif _is_word(action[0] if action else None, "rename"):
                self._check_rename(action[1:])

    def _check_add(self, table: Name, action: list[Item]) -> None:
        if action and _is_word(action[0], *_TABLE_CONSTRAINT_START):
            constraints = _constraints_in(action, column=None)
        else:
            rest = _skip_words(_skip_optional(action, "column"), "if", "not", "exists")
            if not rest or not isinstance(rest[0], Token):
                return
            column = _name(rest[0])
            self._check_snake(column, "column")
            constraints = _constraints_in(rest[1:], column=column)
        self._check_constraints(table, constraints)
        if any(c.kind == "primary key" for c in constraints):
            self.tables_without_pk.pop(table.key, None)

    def _check_rename(self, action: list[Item]) -> None:
        """RENAME TO new, RENAME CONSTRAINT old TO new, RENAME [COLUMN] old TO new."""
        if _starts_with_words(action, "to"):
            what = "table"
        elif _starts_with_words(action, "constraint"):
            what = "constraint"
        else:
            what = "column"
        to_index = next((i for i, item in enumerate(action) if _is_word(item, "to")), None)
        if to_index is None:
            return
        new_name, _ = _take_qualified_name(action[to_index + 1 :])
        if new_name is not None:
            self._check_snake(new_name, what)

    def _check_alter_index(self, items: list[Item]) -> None:
        rest = _skip_words(items, "if", "exists")
        _, rest = _take_qualified_name(rest)
        if _starts_with_words(rest, "rename", "to"):
            new_name, _ = _take_qualified_name(rest[2:])
            if new_name is not None:
                self._check_snake(new_name, "index")
                # A rename cannot tell whether the index is unique, so either prefix passes.
                self._check_index_prefix(new_name, unique=True)

    # -- shared checks ------------------------------------------------------------------------

    def _check_constraints(self, table: Name, constraints: Iterable[Constraint]) -> None:
        for constraint in constraints:
            if constraint.name is not None:
                self._check_snake(constraint.name, "constraint")
                self._check_constraint_prefix(table, constraint)
            self._check_partition_key(table, constraint)

    def _check_constraint_prefix(self, table: Name, constraint: Constraint) -> None:
        name = constraint.name
        expected = {"unique": "uq_", "foreign key": "fk_", "check": "ck_", "primary key": "pk_"}
        prefix = expected.get(constraint.kind)
        if prefix is None or name.key.startswith(prefix):
            return
        if constraint.kind == "primary key" and name.key == f"{table.key}_pkey":
            return  # PostgreSQL's own default name is fine too
        hint = f" or {table.key}_pkey" if constraint.kind == "primary key" else ""
        self._report(
            name.line,
            "naming-prefix",
            f"{constraint.kind} constraint {name} must start with {prefix}{hint}",
        )

    def _check_partition_key(self, table: Name, constraint: Constraint) -> None:
        key = self.partitioned.get(table.key)
        if key is None or constraint.kind not in _UNIQUE_KINDS or constraint.columns is None:
            return
        kind = "unique key" if constraint.kind == "unique" else constraint.kind
        label = f"{kind} {constraint.name or ''}"
        if key.has_expression:
            message = (
                f"{label.strip()} on {table}: the table is partitioned by an expression, "
                "so PostgreSQL cannot enforce a unique key on it"
            )
            self._report(constraint.line, "partition-unique-key", message)
            return
        missing = [column for column in key.columns if column not in constraint.columns]
        if missing:
            message = (
                f"{label.strip()} on partitioned table {table} must include the partition key "
                f"column(s): {', '.join(missing)}"
            )
            self._report(constraint.line, "partition-unique-key", message)

    def _check_snake(self, name: Name, what: str) -> None:
        if not SNAKE_CASE.fullmatch(name.raw):
            message = f"{what} name {name} is not snake_case (lower-case letters, digits, _)"
            self._report(name.line, "snake-case", message)


def allow_reasons(file_tokens: list[Token], marker: re.Pattern[str]) -> list[str]:
    """The reasons given by the file's `-- lint:allow-...` comments of one kind ("" if none)."""
    return [
        match["reason"].strip()
        for token in file_tokens
        if token.kind == COMMENT and (match := marker.match(token.text))
    ]


def drop_findings(statements: list[Statement], file_tokens: list[Token]) -> list[Finding]:
    """`drop-without-allow`: a DROP in an UP file needs `-- lint:allow-drop <reason>` in it."""
    reasons = allow_reasons(file_tokens, ALLOW_DROP)
    if any(reasons):
        return []
    hint = "add -- lint:allow-drop <reason> to the file"
    if reasons:
        hint = "the -- lint:allow-drop comment needs a reason after it"
    findings = []
    for statement in statements:
        line = _first_drop_line(statement)
        if line is not None:
            findings.append(Finding(line, "drop-without-allow", f"DROP in an up migration: {hint}"))
    return findings


def transaction_marker_findings(statements: list[Statement]) -> list[Finding]:
    """`transaction-marker`: statements PostgreSQL refuses inside a transaction block.

    For a file without `-- migrate:no-transaction`, which the runner wraps in a transaction.
    (squawk's ban-concurrent-index-creation-in-transaction lets a one-statement file pass,
    assuming the tool runs it bare; our runner does not.)
    """
    findings = []
    for statement in statements:
        tokens = [t for t in tokenize(statement.text, statement.line) if t.kind != COMMENT]
        if _needs_own_transaction(tokens):
            message = (
                "this statement cannot run inside a transaction: add `-- migrate:no-transaction` "
                "to the file's leading comments"
            )
            findings.append(Finding(statement.line, "transaction-marker", message))
    return findings


def _needs_own_transaction(tokens: list[Token]) -> bool:
    words = [t.text.lower() for t in tokens if t.kind == WORD]
    if words[:1] == ["vacuum"] or words[:2] == ["alter", "system"]:
        return True
    if words[:2] in (["create", "database"], ["drop", "database"]):
        return True
    # CREATE/DROP INDEX, REINDEX and DETACH PARTITION ... CONCURRENTLY; REFRESH MATERIALIZED VIEW
    # CONCURRENTLY is the one CONCURRENTLY that is fine inside a transaction.
    return "concurrently" in words and words[:1] != ["refresh"]


def _first_drop_line(statement: Statement) -> int | None:
    tokens = [t for t in tokenize(statement.text, statement.line) if t.kind != COMMENT]
    previous = None
    for token in tokens:
        # CREATE TEMP TABLE ... ON COMMIT DROP is not a drop of anything that exists.
        if token.is_word("drop") and not (previous and previous.is_word("commit")):
            return token.line
        previous = token
    if tokens and tokens[0].is_word("do"):  # a DO block's body runs now, so look inside it
        for token in tokens:
            match = _DROP_IN_BODY.search(token.text) if token.kind in (DOLLAR, STRING) else None
            if match:
                return token.line + token.text[: match.start()].count("\n")
    return None


# -- helpers over tokens ----------------------------------------------------------------------


def _nest(tokens: list[Token]) -> list[Item]:
    """Tokens with each parenthesised run turned into a Group; unbalanced ')' are dropped."""
    root = Group()
    stack = [root]
    for token in tokens:
        if token.text == "(" and token.kind == PUNCT:
            group = Group()
            stack[-1].items.append(group)
            stack.append(group)
        elif token.text == ")" and token.kind == PUNCT:
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1].items.append(token)
    return root.items


def _split_commas(items: list[Item]) -> list[list[Item]]:
    parts: list[list[Item]] = [[]]
    for item in items:
        if isinstance(item, Token) and item.kind == PUNCT and item.text == ",":
            parts.append([])
        else:
            parts[-1].append(item)
    return [part for part in parts if part]


def _is_word(item: Item | None, *words: str) -> bool:
    return isinstance(item, Token) and item.is_word(*words)


def _starts_with_words(items: list[Item], *words: str) -> bool:
    return len(items) >= len(words) and all(
        _is_word(item, word) for item, word in zip(items, words, strict=False)
    )


def _skip_words(items: list[Item], *words: str) -> list[Item]:
    """`items` without a leading run of all `words` in order (like IF NOT EXISTS), if present."""
    return items[len(words) :] if _starts_with_words(items, *words) else items


def _skip_optional(items: list[Item], *words: str) -> list[Item]:
    """`items` without each of `words` that is next in turn (like INDEX, CONCURRENTLY)."""
    rest = items
    for word in words:
        if _starts_with_words(rest, word):
            rest = rest[1:]
    return rest


def _name(token: Token) -> Name:
    if token.kind == QUOTED:
        inner = token.text[3:-1] if token.text[:2].lower() == "u&" else token.text[1:-1]
        return Name(inner.replace('""', '"'), True, token.line)
    return Name(token.text, False, token.line)


def _take_qualified_name(items: list[Item]) -> tuple[Name | None, list[Item]]:
    """The last part of `schema.name` at the front of `items`, and what follows it."""
    name, index = None, 0
    while index < len(items):
        item = items[index]
        if not (isinstance(item, Token) and item.kind in (WORD, QUOTED)):
            break
        name, index = _name(item), index + 1
        following = items[index] if index < len(items) else None
        if not (isinstance(following, Token) and following.text == "."):
            break
        index += 1
    return name, items[index:]


def _key_columns(group: Group) -> tuple[str | None, ...]:
    """The columns of a key list like `(a, b DESC, lower(c))`; an expression gives None."""
    columns: list[str | None] = []
    for element in _split_commas(group.items):
        first = element[0]
        plain = isinstance(first, Token) and first.kind in (WORD, QUOTED)
        called = len(element) > 1 and isinstance(element[1], Group)  # lower(c) is an expression
        columns.append(_name(first).key if plain and not called else None)
    return tuple(columns)


def _partition_key(group: Group) -> PartitionKey:
    columns = _key_columns(group)
    return PartitionKey(tuple(c for c in columns if c is not None), None in columns)


def _constraints_in(items: list[Item], column: Name | None) -> list[Constraint]:
    """Constraints in a column definition (`column` given) or a table constraint (`column` None).

    Only top-level words are read: a word inside parentheses (a CHECK expression, a DEFAULT
    call) is never taken for a keyword.
    """
    constraints: list[Constraint] = []
    pending_name: Name | None = None
    index = 0
    while index < len(items):
        item = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if _is_word(item, "constraint") and isinstance(following, Token):
            pending_name = _name(following)
            index += 2
            continue
        is_keyword = isinstance(item, Token) and item.kind == WORD
        kind = _constraint_kind(items, index, constraints) if is_keyword else None
        if kind is not None:
            columns = _constraint_columns(kind, items[index + 1 :], column)
            constraints.append(Constraint(kind, pending_name, columns, item.line))
            pending_name = None
        index += 1
    return constraints


def _constraints_copied_by_like(element: list[Item]) -> list[Constraint]:
    """LIKE other INCLUDING ALL|INDEXES copies the other table's primary key (columns unknown)."""
    for item, following in zip(element, element[1:], strict=False):
        if _is_word(item, "including") and _is_word(following, "all", "indexes"):
            return [Constraint("primary key", None, None, item.line)]
    return []


def _constraint_kind(items: list[Item], index: int, found: list[Constraint]) -> str | None:
    word = items[index].text.lower()
    following = items[index + 1] if index + 1 < len(items) else None
    if word == "primary" and _is_word(following, "key"):
        return "primary key"
    if word == "foreign" and _is_word(following, "key"):
        return "foreign key"
    if word == "references":
        # FOREIGN KEY (a) REFERENCES t: the REFERENCES belongs to the constraint just found.
        return None if found and found[-1].kind == "foreign key" else "foreign key"
    if word == "not" and _is_word(following, "null"):
        return "not null"
    if word in ("unique", "check", "exclude"):
        return word
    return None


def _constraint_columns(
    kind: str, rest: list[Item], column: Name | None
) -> tuple[str | None, ...] | None:
    if kind not in _UNIQUE_KINDS:
        return None
    if column is not None:
        return (column.key,)
    # Table constraint: PRIMARY KEY (a, b) / UNIQUE [NULLS [NOT] DISTINCT] (a, b);
    # `... USING INDEX idx` names no columns here, so the key is unknown (None).
    for item in rest:
        if isinstance(item, Group):
            return _key_columns(item)
        if _is_word(item, "using"):
            return None
    return None
