{#- The hours a run rebuilds: var('rollup_ranges'), a list of [start, end) pairs of ISO-8601
    times with an offset, whole UTC hours, e.g.
        [["2026-12-01T00:00:00+00:00", "2026-12-01T05:00:00+00:00"]]
    (a JSON string of that list is accepted too). Empty or absent = every hour (full rebuild).
    They are rendered as literal UTC timestamps, so PostgreSQL plans each range against the
    index on the time column, and the delete and the select of a mart name the same rows. -#}

{% macro _rollup_moment(text, position) -%}
    {%- set pattern = '^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}(:?\\d{2})?)$' -%}
    {%- if text is not string or not modules.re.match(pattern, text) -%}
        {{ exceptions.raise_compiler_error("rollup_ranges" ~ position ~ ": " ~ (text | string) ~ " is not an ISO-8601 time with an offset (e.g. 2026-12-01T05:00:00+00:00)") }}
    {%- endif -%}
    {%- set moment = modules.datetime.datetime.fromisoformat(text.replace('Z', '+00:00')) -%}
    {%- set moment = moment.astimezone(modules.pytz.utc) -%}
    {%- if moment.minute != 0 or moment.second != 0 or moment.microsecond != 0 -%}
        {{ exceptions.raise_compiler_error("rollup_ranges" ~ position ~ ": " ~ text ~ " is not a whole UTC hour") }}
    {%- endif -%}
    {{ return(moment) }}
{%- endmacro %}

{#- [(start, end), ...] as UTC datetimes, in the order given. -#}
{% macro rollup_ranges() -%}
    {%- set raw = var('rollup_ranges', []) -%}
    {%- if raw is string -%}
        {%- set raw = fromjson(raw) if raw | trim else [] -%}
    {%- endif -%}
    {%- if raw is none -%}{%- set raw = [] -%}{%- endif -%}
    {%- if raw is mapping or raw is string or raw is not iterable -%}
        {{ exceptions.raise_compiler_error("rollup_ranges must be a list of [start, end) pairs, got " ~ (raw | string)) }}
    {%- endif -%}
    {%- set ranges = [] -%}
    {%- for pair in raw -%}
        {%- if pair is string or pair is mapping or pair is not iterable or pair | length != 2 -%}
            {{ exceptions.raise_compiler_error("rollup_ranges[" ~ loop.index0 ~ "] must be a [start, end) pair, got " ~ (pair | string)) }}
        {%- endif -%}
        {%- set start = _rollup_moment(pair[0], "[" ~ loop.index0 ~ "][0]") -%}
        {%- set end = _rollup_moment(pair[1], "[" ~ loop.index0 ~ "][1]") -%}
        {%- if end <= start -%}
            {{ exceptions.raise_compiler_error("rollup_ranges[" ~ loop.index0 ~ "]: end " ~ pair[1] ~ " is not after start " ~ pair[0]) }}
        {%- endif -%}
        {%- do ranges.append((start, end)) -%}
    {%- endfor -%}
    {{ return(ranges) }}
{%- endmacro %}

{#- The same ranges widened to whole UTC days: [(first day 00:00, day after the last 00:00), ...]. -#}
{% macro rollup_day_ranges() -%}
    {%- set days = [] -%}
    {%- set one_day = modules.datetime.timedelta(days=1) -%}
    {%- for start, end in rollup_ranges() -%}
        {%- set first = start.replace(hour=0) -%}
        {%- set last = end.replace(hour=0) -%}
        {%- if last < end -%}{%- set last = last + one_day -%}{%- endif -%}
        {%- do days.append((first, last)) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}

{#- The ranges in one canonical text (what the build marker stores and the marts compare). -#}
{% macro rollup_ranges_text() -%}
    {%- set parts = [] -%}
    {%- for start, end in rollup_ranges() -%}
        {%- do parts.append('["' ~ start.isoformat() ~ '","' ~ end.isoformat() ~ '"]') -%}
    {%- endfor -%}
    {{ return('[' ~ parts | join(',') ~ ']') }}
{%- endmacro %}

{% macro utc_timestamp_literal(moment) -%}
    cast('{{ moment.strftime("%Y-%m-%d %H:%M:%S") }}+00:00' as timestamp with time zone)
{%- endmacro %}

{% macro date_literal(moment) -%}
    cast('{{ moment.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}

{#- A boolean SQL condition: `column` falls in one of the run's ranges.
      grain='hour': the ranges as given;  grain='day': widened to whole UTC days.
      column_type='timestamp' (a TIMESTAMPTZ column) or 'date' (a DATE column; grain day only).
    No ranges: `1 = 1` (everything). -#}
{% macro in_rollup_ranges(column, grain='hour', column_type='timestamp') -%}
    {%- if grain not in ('hour', 'day') or column_type not in ('timestamp', 'date') or (grain == 'hour' and column_type == 'date') -%}
        {{ exceptions.raise_compiler_error("in_rollup_ranges: grain must be hour or day and column_type timestamp or date (date only with day), got " ~ grain ~ "/" ~ column_type) }}
    {%- endif -%}
    {%- set ranges = rollup_ranges() if grain == 'hour' else rollup_day_ranges() -%}
    {%- if ranges | length == 0 -%}
        (1 = 1)
    {%- else -%}
        ({% for start, end in ranges %}{% if not loop.first %} or {% endif -%}
        {%- if column_type == 'date' -%}
            ({{ column }} >= {{ date_literal(start) }} and {{ column }} < {{ date_literal(end) }})
        {%- else -%}
            ({{ column }} >= {{ utc_timestamp_literal(start) }} and {{ column }} < {{ utc_timestamp_literal(end) }})
        {%- endif -%}
        {%- endfor %})
    {%- endif -%}
{%- endmacro %}
