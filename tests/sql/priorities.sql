-- Assertion reads of members' priorities (tests/account_manager_support.py, tests/reengagement_support.py).

-- name: check_priorities_of_member
-- Every priority row of the member, in rank order.
SELECT * FROM user_priorities WHERE user_id = %(user_id)s ORDER BY priority_rank, item_type, item_id;

-- name: check_priority_of_item
-- The member's priority row for one item.
SELECT * FROM user_priorities WHERE user_id = %(user_id)s AND item_id = %(item_id)s;
