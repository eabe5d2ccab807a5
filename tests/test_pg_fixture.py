"""The PostgreSQL fixture gives each test a database of its own that really accepts writes."""
import sqlalchemy as sa


def test_pg_database_is_fresh_and_writable(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("select count(*) from pg_tables where schemaname='public'")).scalar() == 0
        conn.execute(sa.text("create table t (x int)"))
        conn.execute(sa.text("insert into t values (1)"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("select x from t")).scalar() == 1
    engine.dispose()
