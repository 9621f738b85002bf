"""The event envelope's JSON Schema (docs/schemas/usage-event.schema.json), compiled for DuckDB.

The schema is the contract; this module turns it into one vectorised DuckDB SELECT that checks
every line of a chunk at once (no per-row Python) and yields typed columns plus, per invalid
row, a reason code and a detail. It understands the subset of JSON Schema the envelope uses
and refuses any other keyword, so an edit the compiler cannot honour fails loudly:

    type (string, integer, number, object, null), required, additionalProperties: false,
    minLength, maxLength, pattern, enum, const, minimum, maximum, exclusiveMaximum, format (uuid,
    date-time), and allOf of
    `if {properties: {P: {const: C}}, required: [P]} then {properties: {Q: {type: null}}}`;

and the envelope's own bounds (annotations to a generic JSON Schema validator), which keep every
accepted line within what DuckDB and PostgreSQL can take, so no line can sink a batch:

    x-maxLineBytes (top level: a line's UTF-8 bytes; lib/ingest/readers.py enforces it),
    x-maxDepth (an object's nesting: the object itself is depth 1), x-maxNumberLength and
    x-maxExponentDigits (each number inside an object, as text).

Semantics follow JSON Schema 2020-12 (an integer is any number with a zero fraction; patterns
are unanchored ECMA-262 regexes, where `$` is the end of the string). A `number` property is
typed as an exact DECIMAL(38, 10), never through a binary float: DuckDB parses JSON numbers as
doubles, so the number's text is cut out of the line itself (`_exact_number`); with `string`
in its types too, a string matching the property's pattern is the same decimal written as text. `reference_validator()`
is the same schema under the `jsonschema` library; tests/unit/test_ingest_schema.py checks
that both agree on arbitrary envelopes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from dagster_project.lib.errors import PlatformError
from dagster_project.lib.paths import DOCS_DIR

SCHEMA_PATH = DOCS_DIR / "schemas" / "usage-event.schema.json"
JSON_KINDS = ("string", "integer", "number", "object", "array", "boolean", "null")
_PROPERTY_KEYWORDS = {
    "description", "type", "minLength", "maxLength", "pattern", "enum", "const", "minimum",
    "maximum", "exclusiveMaximum", "format", "x-maxDepth", "x-maxNumberLength",
    "x-maxExponentDigits",
}  # fmt: skip
_TOP_KEYWORDS = {
    "$schema", "$id", "title", "description", "type", "additionalProperties", "required",
    "properties", "allOf", "x-maxLineBytes", "x-envelopeVersion",
}  # fmt: skip
_FORMATS = {"uuid", "date-time"}


class SchemaError(PlatformError, ValueError):
    """The envelope schema uses something this compiler does not implement."""


@dataclass(frozen=True)
class Property:
    name: str
    types: frozenset[str]
    required: bool
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None  # numbers
    format: str | None = None
    max_depth: int | None = None  # objects
    max_number_length: int | None = None  # numbers inside an object
    max_exponent_digits: int | None = None  # numbers inside an object

    @property
    def sql_type(self) -> str:
        """The DuckDB type of this property's typed column."""
        if "integer" in self.types:
            return "INTEGER"
        if "number" in self.types:
            return "DECIMAL(38, 10)"
        if "object" in self.types:
            return "VARCHAR"  # JSON text, stored as jsonb
        return {"uuid": "UUID", "date-time": "TIMESTAMPTZ"}.get(self.format or "", "VARCHAR")


@dataclass(frozen=True)
class Conditional:
    """if `when` == `equals` then `then` must be null."""

    when: str
    equals: Any
    then: str
    description: str


@dataclass(frozen=True)
class Envelope:
    properties: tuple[Property, ...]
    conditionals: tuple[Conditional, ...] = field(default=())
    max_line_bytes: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)

    def property(self, name: str) -> Property:
        return next(p for p in self.properties if p.name == name)


def load_schema_document(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


@cache
def load_envelope(path: Path = SCHEMA_PATH) -> Envelope:
    return compile_envelope(load_schema_document(path))


def compile_envelope(doc: dict[str, Any]) -> Envelope:
    _only(doc, _TOP_KEYWORDS, "the schema")
    if doc.get("type") != "object" or doc.get("additionalProperties") is not False:
        raise SchemaError("the envelope must be an object with additionalProperties: false")
    required = set(doc.get("required", []))
    props = []
    for name, spec in doc["properties"].items():
        _only(spec, _PROPERTY_KEYWORDS, f"property {name}")
        types = spec.get("type", [])
        types = frozenset([types] if isinstance(types, str) else types)
        if not types or not types <= set(JSON_KINDS) - {"array", "boolean"}:
            raise SchemaError(f"property {name}: type must be string/integer/number/object/null")
        if "number" in types and types & {"integer", "object"}:
            raise SchemaError(f"property {name}: a number cannot also be an integer or an object")
        if spec.get("format") and spec["format"] not in _FORMATS:
            raise SchemaError(f"property {name}: format {spec['format']} is not implemented")
        enum = spec.get("enum")
        if "const" in spec:
            enum = [spec["const"]]
        props.append(
            Property(
                name=name,
                types=types,
                required=name in required,
                min_length=spec.get("minLength"),
                max_length=spec.get("maxLength"),
                pattern=spec.get("pattern"),
                enum=tuple(enum) if enum is not None else None,
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                exclusive_maximum=spec.get("exclusiveMaximum"),
                format=spec.get("format"),
                max_depth=_bound(spec, "x-maxDepth", name, 1, 1000),
                max_number_length=_bound(spec, "x-maxNumberLength", name, 1, 1000),
                max_exponent_digits=_bound(spec, "x-maxExponentDigits", name, 1, 5),
            )
        )
    missing = required - {p.name for p in props}
    if missing:
        raise SchemaError(f"required but not defined: {', '.join(sorted(missing))}")
    return Envelope(
        tuple(props),
        tuple(_conditional(c) for c in doc.get("allOf", [])),
        max_line_bytes=_bound(doc, "x-maxLineBytes", "the schema", 1, 1 << 30),
    )


def _bound(spec: dict[str, Any], keyword: str, where: str, low: int, high: int) -> int | None:
    """An envelope bound: an integer in [low, high] (high: what the checks can express - RE2's
    largest repetition is 1000, numeric's exponent has 6 digits, a text value 1 GB)."""
    value = spec.get(keyword)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SchemaError(f"{where}: {keyword} must be an integer from {low} to {high}")
    if keyword != "x-maxLineBytes" and "object" not in spec.get("type", []):
        raise SchemaError(f"{where}: {keyword} applies to objects only")
    return value


def _only(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(spec) - allowed
    if extra:
        raise SchemaError(f"{where}: keywords not implemented: {', '.join(sorted(extra))}")


def _conditional(spec: dict[str, Any]) -> Conditional:
    try:
        ((when, cond),) = spec["if"]["properties"].items()
        ((then, rule),) = spec["then"]["properties"].items()
        assert spec["if"].get("required") == [when] and set(cond) == {"const"}
        assert rule == {"type": "null"} and set(spec) <= {"if", "then", "description"}
    except (KeyError, ValueError, AssertionError):
        raise SchemaError(
            "allOf entries must be `if {properties: {P: {const: C}}, required: [P]} "
            "then {properties: {Q: {type: null}}}`"
        ) from None
    return Conditional(when, cond["const"], then, spec.get("description", ""))


# -- DuckDB --------------------------------------------------------------------------------------


def _lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or value is None:
        raise SchemaError(f"literal {value!r} is not supported")
    return repr(value)


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validation_sql(envelope: Envelope, source: str = "chunk") -> str:
    """A SELECT over `source(line_no BIGINT, raw VARCHAR)`: per line a boolean `ok` and one
    typed column per property (NULL unless ok). Each line is parsed into typed values (strings
    decoded, numbers as DOUBLE, objects as JSON text) and, separately, the JSON type of every
    property, since the typed parse coerces (a number into VARCHAR, "12" into DOUBLE). Only
    cheap booleans here: which rule failed is `diagnosis_sql`'s business, run on the few
    lines that are not ok."""
    names = envelope.names
    oks = []
    for i, p in enumerate(envelope.properties):
        v, jt = f"s.{_col(p.name)}", f"types[{i + 1}]"
        wanted = []
        if "string" in p.types:
            wanted.append(f"{jt} = 'VARCHAR'")
        if "object" in p.types:
            wanted.append(f"{jt} = 'OBJECT'")
        if "integer" in p.types:  # JSON Schema: any number with a zero fraction
            wanted.append(
                f"({jt} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND isfinite({v}) AND {v} = trunc({v}))"
            )
        if "number" in p.types:  # JSON text here (kind JSON); exact: the text cut out of raw
            # a CASE, not an AND: DuckDB evaluates every operand of an AND on every row, and
            # the regexes on each line cost ~6 us (measured); a CASE runs them on numbers only
            wanted.append(f"CASE WHEN {jt} IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
                          f"THEN isfinite(TRY_CAST({v} AS DOUBLE)) "
                          f"AND {_exact_number('raw', p.name)} IS NOT NULL ELSE false END")  # fmt: skip
        if "null" in p.types:
            wanted.append(f"{jt} = 'NULL'")
        if not p.required:
            wanted.append(f"{jt} IS NULL")  # absent
        if "number" in p.types:
            text = f"CASE WHEN {jt} = 'VARCHAR' THEN {v}->>'$' END"
            number = f"CASE WHEN {jt} <> 'VARCHAR' THEN TRY_CAST({v} AS DOUBLE) END"
            rules = " OR ".join(f"({c})" for c, _, _ in _value_rules(text, p, number))
            value_ok = f" AND NOT coalesce({rules}, false)" if rules else ""
        else:
            rules = " OR ".join(f"({condition})" for condition, _, _ in _value_rules(v, p))
            value_ok = f" AND ({v} IS NULL OR NOT coalesce({rules}, false))" if rules else ""
        oks.append(f"({' OR '.join(wanted)}){value_ok}")
    for c in envelope.conditionals:
        then = names.index(c.then)
        oks.append(
            f"NOT (coalesce(s.{_col(c.when)} = {_lit(c.equals)}, false) "
            f"AND types[{then + 1}] IS NOT NULL AND types[{then + 1}] <> 'NULL')"
        )
    # Exactly the envelope's keys, each once: len(keys) equals the number of known properties
    # present (json_type is SQL NULL for an absent one) only when no key is unknown or repeated.
    present = " + ".join(f"(types[{i + 1}] IS NOT NULL)::INTEGER" for i in range(len(names)))
    typed = [
        f"CASE WHEN ok THEN {_typed(f's.{_col(p.name)}', p, f'types[{i + 1}]')} END "
        f"AS {_col(p.name)}"
        for i, p in enumerate(envelope.properties)
    ]
    paths = "[" + ", ".join(_lit("$." + n) for n in names) + "]"
    return f"""
WITH parsed AS (
    SELECT line_no,{" raw," if any("number" in p.types for p in envelope.properties) else ""}
           CASE WHEN json_valid(raw) AND left(ltrim(raw), 1) = '{{' THEN from_json(raw, '{_struct(envelope, typed=True)}') END AS s,
           CASE WHEN json_valid(raw) THEN json_keys(raw) END AS keys,
           CASE WHEN json_valid(raw) THEN json_type(raw, {paths}) END AS types
    FROM {source}
), checked AS (
    SELECT *, coalesce(s IS NOT NULL AND len(keys) = {present}
                       AND {" AND ".join(f"({ok})" for ok in oks)}, false) AS ok
    FROM parsed
)
SELECT line_no, ok, {", ".join(typed)}
FROM checked
"""


def _struct(envelope: Envelope, *, typed: bool) -> str:
    """from_json's structure: every property as JSON text, or as its typed value."""

    def kind(p: Property) -> str:
        if not typed or p.types & {"object", "number"}:
            return "JSON"
        return "DOUBLE" if "integer" in p.types else "VARCHAR"

    fields = (f"{json.dumps(p.name)}: {json.dumps(kind(p))}" for p in envelope.properties)
    return "{" + ", ".join(fields) + "}"


def _decoded(j: str, p: Property, i: int) -> str:
    """The decoded string (or object text): unescaped strings are cut out, others parsed."""
    if "object" in p.types:
        return f"CASE WHEN left({j}, 1) = '{{' THEN {j} END AS v{i}"
    return (
        f"CASE WHEN left({j}, 1) <> '\"' THEN NULL WHEN contains({j}, '\\') THEN {j}->>'$' "
        f"ELSE substr({j}, 2, length({j}) - 2) END AS v{i}"
    )


def diagnosis_sql(envelope: Envelope, source: str) -> str:
    """Over `source(line_no, raw)` (the lines validation_sql found not ok): the first failing
    rule of each, as `error` = 'reason_code|detail'."""
    names = envelope.names
    known = f"[{', '.join(_lit(n) for n in names)}]"
    kinds, values, types_, checked = [], [], [], []
    for i, p in enumerate(envelope.properties):
        j, key = f"s.{_col(p.name)}", _lit(p.name)
        kinds.append(
            f"CASE WHEN {j} IS NULL THEN (CASE WHEN list_contains(keys, {key}) THEN 'null' ELSE "
            f"'absent' END) ELSE (CASE left({j}, 1) WHEN '\"' THEN 'string' WHEN '{{' THEN "
            f"'object' WHEN '[' THEN 'array' WHEN 't' THEN 'boolean' WHEN 'f' THEN 'boolean' "
            f"ELSE (CASE WHEN isfinite(TRY_CAST({j} AS DOUBLE)) AND TRY_CAST({j} AS DOUBLE) = "
            f"trunc(TRY_CAST({j} AS DOUBLE)) THEN 'integer' ELSE 'number' END) END) END AS k{i}"
        )
        if "integer" in p.types:
            values.append(f"CASE WHEN k{i} = 'integer' THEN TRY_CAST({j} AS DOUBLE) END AS v{i}")
        else:
            values.append(_decoded(j, p, i))
        if "number" in p.types:
            values.append(f"CASE WHEN k{i} IN ('integer', 'number') THEN TRY_CAST({j} AS DOUBLE) "
                          f"END AS n{i}")  # fmt: skip
        kinds_allowed = set(p.types) | ({"integer"} if "number" in p.types else set())
        allowed = sorted(kinds_allowed | ({"absent"} if not p.required else set()))
        missing = (
            f"WHEN k{i} = 'absent' THEN 'missing_field|{p.name} is required' " if p.required else ""
        )
        types_.append(
            f"CASE {missing}WHEN k{i} NOT IN ({', '.join(_lit(k) for k in allowed)}) "
            f"THEN 'invalid_type|{p.name}: expected {' or '.join(sorted(p.types))}, got ' || k{i} END"
        )
        rules = _value_rules(f"v{i}", p, f"n{i}" if "number" in p.types else None)
        if "number" in p.types:
            rules.append((f"n{i} IS NOT NULL AND isfinite(n{i}) AND {_exact_number('raw', p.name)} IS NULL",
                          "invalid_value", "is a number whose digits could not be read exactly "
                          "(an escaped key?): send it as a decimal string"))  # fmt: skip
        if rules:
            whens = " ".join(f"WHEN {c} THEN {_lit(f'{r}|{p.name} {m}')}" for c, r, m in rules)
            present = f"v{i} IS NULL AND n{i} IS NULL" if "number" in p.types else f"v{i} IS NULL"
            checked.append(f"CASE WHEN {present} THEN NULL {whens} END")
    for c in envelope.conditionals:
        when, then = names.index(c.when), names.index(c.then)
        checked.append(
            f"CASE WHEN v{when} = {_lit(c.equals)} AND k{then} NOT IN ('null', 'absent') THEN "
            f"'invalid_value|{c.then} must be null when {c.when} is {c.equals}' END"
        )
    unknown = f"list_filter(keys, x -> NOT list_contains({known}, x))"
    return f"""
WITH parsed AS (
    SELECT line_no, raw,
           CASE WHEN json_valid(raw) THEN try(json_keys(raw)) END AS keys,
           CASE WHEN json_valid(raw) THEN try(from_json(raw, '{_struct(envelope, typed=False)}')) END AS s
    FROM {source}
), kinds AS (
    SELECT *, {", ".join(kinds)} FROM parsed
), vals AS (
    SELECT *, {", ".join(values)} FROM kinds
)
SELECT line_no, coalesce(
    CASE WHEN raw IS NULL THEN 'malformed_record|no payload'
         WHEN NOT json_valid(raw) THEN 'malformed_record|not valid JSON'
         WHEN left(ltrim(raw), 1) <> '{{' THEN 'invalid_type|the event is not a JSON object'
         WHEN keys IS NULL OR s IS NULL THEN 'malformed_record|not valid JSON'
         WHEN len(keys) <> len(list_distinct(keys)) THEN 'malformed_record|a key appears twice'
         WHEN len({unknown}) > 0 THEN 'unknown_field|' || array_to_string({unknown}, ', ')
    END,
    {", ".join(types_ + checked)},
    'malformed_record|not valid JSON'
) AS error
FROM vals
"""


def _value_rules(v: str, p: Property, number: str | None = None) -> list[tuple[str, str, str]]:
    """(condition that makes the value `v` invalid, reason, detail), in reporting order.
    `number`: a number property's value as a DOUBLE (`v` is then its string form, if any)."""
    rules = []
    bad = "invalid_value"
    if "string" in p.types:
        rules.append((f"contains({v}, chr(0))", bad,
                      "contains U+0000, which PostgreSQL cannot store"))  # fmt: skip
        if p.min_length is not None:
            rules.append((f"length({v}) < {p.min_length}", bad, f"shorter than {p.min_length}"))
        if p.max_length is not None:
            rules.append((f"length({v}) > {p.max_length}", bad, f"longer than {p.max_length}"))
        if p.pattern is not None:
            rules.append(
                (f"NOT regexp_matches({v}, {_lit(p.pattern)})", bad, "does not match " + p.pattern)
            )
        if p.format == "date-time":
            # The pattern has the RFC 3339 ranges; the cast adds the calendar (no 2026-02-30).
            rules.append(
                (f"TRY_CAST({v} AS TIMESTAMPTZ) IS NULL OR left({v}, 4) = '0000'", bad,
                 "is not a valid RFC 3339 date-time"))  # fmt: skip
    if "integer" in p.types or "number" in p.types:
        n = number or v
        if p.minimum is not None:
            rules.append((f"{n} < {p.minimum}", bad, f"below the minimum {p.minimum}"))
        if p.maximum is not None:
            rules.append((f"{n} > {p.maximum}", bad, f"above the maximum {p.maximum}"))
        if p.exclusive_maximum is not None:
            rules.append((f"{n} >= {p.exclusive_maximum}", bad,
                          f"not below the maximum {p.exclusive_maximum}"))  # fmt: skip
    if "object" in p.types:
        if p.max_depth is not None:
            rules.append((_deeper_than(v, p.max_depth), "too_deep",
                          f"is nested deeper than {p.max_depth} levels"))  # fmt: skip
        # DuckDB's parser accepts NaN/Infinity, PostgreSQL's jsonb does not; nor \u0000.
        rules.append((f"regexp_matches({v}, {_lit(_BARE_NAN)})", bad, "holds NaN or Infinity"))
        rules.append((f"regexp_matches({v}, {_lit(_ESCAPED_NUL)})", bad,
                      "holds \\u0000, which PostgreSQL cannot store"))  # fmt: skip
        numbers = _number_out_of_range(p)
        if numbers is not None:
            rules.append((f"regexp_matches({v}, {_lit(numbers)})", "value_out_of_range",
                          f"holds a number longer than {p.max_number_length} characters or "
                          f"with an exponent of more than {p.max_exponent_digits} digits"))  # fmt: skip
    if p.enum is not None:
        values = [e for e in p.enum if e is not None]  # null: the property's type allows it
        rules.append((f"{v} NOT IN ({', '.join(_lit(e) for e in values)})", bad,
                      "is not one of " + ", ".join(map(str, values))))  # fmt: skip
    return rules


# A JSON text with every string literal removed (brackets and digits in strings do not count).
_STRING = r'"(?:[^"\\]|\\.)*"'


def _deeper_than(v: str, depth: int) -> str:
    """A condition: the JSON text `v` nests deeper than `depth`. Only on a text with more
    opening brackets than `depth` (rare): its brackets alone, outside strings, lose their
    innermost pairs `depth` times; anything left was deeper."""
    opening = f"length({v}) - length(replace(replace({v}, '[', ''), '{{', ''))"
    strings = f"regexp_replace({v}, {_lit(_STRING)}, '', 'g')"
    brackets = f"regexp_replace({strings}, '[^\\[\\]{{}}]', '', 'g')"
    for _ in range(depth):
        brackets = f"regexp_replace({brackets}, '\\[\\]|\\{{\\}}', '', 'g')"
    return f"CASE WHEN {opening} > {depth} THEN {brackets} <> '' ELSE false END"


def _number_out_of_range(p: Property) -> str | None:
    """A regex finding, outside strings, a number longer than max_number_length characters
    or with more than max_exponent_digits significant exponent digits. Together the two keep
    every number within PostgreSQL's numeric (131072 digits before the point, 16383 after)."""
    if p.max_number_length is None or p.max_exponent_digits is None:
        return None
    token = r"[:,\[]\s*"
    too_long = f"[-+0-9.eE]{{{p.max_number_length + 1}}}"
    exponent = f"-?[0-9.]+[eE][-+]?0*[1-9][0-9]{{{p.max_exponent_digits}}}"
    return f'^(?:[^"]|{_STRING})*?{token}(?:{too_long}|{exponent})'


# In DuckDB's rendering of a JSON object: a NaN/Infinity token outside any string (the prefix
# consumes whole string literals), and a \u0000 escape (preceded by an even number of
# backslashes, so "\\u0000" - an escaped backslash, then text - does not count).
_BARE_NAN = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*[:,\[]-?(?i:nan|inf)'
_ESCAPED_NUL = r"(?:^|[^\\])(?:\\\\)*\\u0000"


# A JSON number's text (RFC 8259), and a JSON scalar (string or literal) to skip over.
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
_SCALAR = rf"(?:{_STRING}|[-+.0-9a-zA-Z]+)"


def _exact_number(raw: str, name: str) -> str:
    """The text of top-level property `name`'s number in the JSON object `raw`, or NULL.

    DuckDB parses JSON numbers as doubles (0.1000000000000000055 comes back as 0.1), so the
    digits are cut out of the line. A regex cannot skip a nested object, but the envelope has at
    most one (metadata): the top-level key is either preceded only by scalar members (the first
    pattern, anchored at the opening brace) or followed only by them (the second, anchored at
    the closing one). A key of the same name inside metadata matches neither: it is preceded by
    metadata's own brace and followed by it; inside a string its quotes are escaped."""
    key = '"' + re.escape(name) + '"'
    member = rf"\s*{_STRING}\s*:\s*{_SCALAR}\s*"
    before = rf"^\s*\{{(?:{member},)*\s*{key}\s*:\s*({_NUMBER})\s*[,}}]"
    after = rf"{key}\s*:\s*({_NUMBER})\s*(?:,{member})*\}}\s*$"
    return (f"coalesce(nullif(regexp_extract({raw}, {_lit(before)}, 1), ''), "
            f"nullif(regexp_extract({raw}, {_lit(after)}, 1), ''))")  # fmt: skip


def _typed(v: str, p: Property, jt: str = "") -> str:
    if p.sql_type == "DECIMAL(38, 10)":  # exact: rounded half away from zero to 10 places
        text = (
            f"CASE WHEN {jt} = 'VARCHAR' THEN {v}->>'$' WHEN {jt} IN ('BIGINT', 'UBIGINT', "
            f"'DOUBLE') THEN {_exact_number('raw', p.name)} END"
        )  # the regexes: numbers only
        return f"CAST({text} AS DECIMAL(38, 10))"
    if p.sql_type == "INTEGER":
        return f"CAST({v} AS INTEGER)"
    if p.sql_type in ("UUID", "TIMESTAMPTZ"):
        return f"CAST({v} AS {p.sql_type})"
    return v


# -- the reference implementation (tests, diagnostics) -------------------------------------------


def reference_validator(doc: dict[str, Any] | None = None):
    """A `jsonschema` validator for the same schema, with ECMA-262 pattern semantics (`$` is the
    end of the string, not "before a final newline") and a strict date-time format."""
    import jsonschema
    from jsonschema import Draft202012Validator, validators

    def pattern(validator, regex, instance, schema):
        if validator.is_type(instance, "string") and not re.search(_ecma(regex), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {regex!r}")

    def max_depth(validator, limit, instance, schema):
        if validator.is_type(instance, "object") and _depth(instance) > limit:
            yield jsonschema.ValidationError(f"nested deeper than {limit}")

    def numbers(validator, _, instance, schema):
        length, digits = schema.get("x-maxNumberLength"), schema.get("x-maxExponentDigits")
        if validator.is_type(instance, "object") and length and digits:
            for number in _numbers(instance):
                mantissa, _, exponent = repr(number).lower().partition("e")
                if len(repr(number)) > length or len(exponent.lstrip("+-0")) > digits:
                    yield jsonschema.ValidationError(f"{number!r} is out of range")

    checker = jsonschema.FormatChecker()
    checker.checks("date-time")(_is_datetime)
    checker.checks("uuid")(lambda s: not isinstance(s, str) or bool(re.fullmatch(_UUID, s)))
    cls = validators.extend(
        Draft202012Validator,
        {"pattern": pattern, "x-maxDepth": max_depth, "x-maxNumberLength": numbers},
    )
    return cls(doc or load_schema_document(), format_checker=checker)


_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _ecma(regex: str) -> str:
    # Only the envelope's own patterns need translating: `$` at the end, `[0-9]` not `\d`.
    return regex[:-1] + r"\Z" if regex.endswith("$") else regex


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _numbers(value: object):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


# RFC 3339 section 5.6, with the calendar left to datetime(): no leap second, year >= 1.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _RFC3339.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = map(int, match.groups()[:6])
    if match[9] is not None and (int(match[9]) > 23 or int(match[10]) > 59):
        return False
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True
