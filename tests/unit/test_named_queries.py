import pytest

from shared.adapters.postgres import load_queries, parse_queries, query


def test_parse_splits_named_queries_and_drops_description_comments():
    text = """
-- name: first_query
-- Describe the first.
SELECT 1;

-- name: second_query
-- Describe the second.
SELECT %(x)s;
"""
    assert parse_queries(text) == {"first_query": "SELECT 1;", "second_query": "SELECT %(x)s;"}


def test_empty_query_is_refused():
    with pytest.raises(ValueError, match="empty"):
        parse_queries("-- name: nothing\n-- only a comment\n")


def test_project_query_files_load_with_unique_names():
    queries = load_queries()
    assert "insert_event" in queries
    assert all(sql.strip() for sql in queries.values())


def test_unknown_query_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no_such_query"):
        query("no_such_query")
