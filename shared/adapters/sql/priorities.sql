-- user_priorities: what each member's point of contact may bring up, ranked (decisions B9).

-- name: priorities_open_for_user
-- The member's top priorities that are not dormant, with their denormalised fields (decisions B9).
SELECT id, priority_rank, item_type, item_id, value_score, status, presentation_count, last_presented_at,
       item_summary, item_primary_name, item_secondary_name, item_context
  FROM user_priorities
 WHERE user_id = %(user_id)s
   AND status IN ('active', 'presented', 'clarifying')
   AND presentation_count <= 1
 ORDER BY priority_rank, created_at
 LIMIT %(limit)s;

-- name: priorities_cancel_for_items
-- The priority rows that present cancelled items (agents.md §4.3.9).
UPDATE user_priorities SET status = 'cancelled'
 WHERE item_type = %(item_type)s AND item_id = ANY(%(item_ids)s) AND status <> 'cancelled';

-- name: priorities_mark_presented
-- markPriorityPresented (agents.md §13): count one presentation; active -> presented; a second presentation of a presented item makes it dormant (decisions B9).
UPDATE user_priorities
   SET presentation_count = presentation_count + 1,
       last_presented_at = now(),
       presented_at = coalesce(presented_at, now()),
       status = CASE
                  WHEN status = 'presented' AND presentation_count + 1 >= %(dormant_after)s THEN 'dormant'
                  WHEN status = 'active' THEN 'presented'
                  ELSE status
                END
 WHERE user_id = %(user_id)s AND item_type = %(item_type)s AND item_id = %(item_id)s
   AND status IN ('active', 'presented', 'clarifying')
RETURNING id, status, presentation_count;
