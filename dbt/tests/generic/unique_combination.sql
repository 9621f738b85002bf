{#- The combination of `columns` is unique: no two rows share it. NULLs compare equal (a GROUP BY
    groups them), which is what a grain with nullable keys (api_key_id, user_id) needs. Returns
    the offending combinations. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
