{#- Every token category's count and cost is non-negative and computed_cost_usd is exactly the sum
    of the category costs (macros/categories.sql). Returns the offending rows. -#}
{% test category_costs_add_up(model) %}
select *
from {{ model }}
where computed_cost_usd <> {% for c in token_categories() %}{% if not loop.first %} + {% endif %}{{ c['cost'] }}{% endfor %}
    {%- for c in token_categories() %}
    or {{ c['count'] }} < 0 or {{ c['cost'] }} < 0
    {%- endfor %}
    or provider_cost_requests < 0
{% endtest %}
