DROP TABLE IF EXISTS app.budgets;
