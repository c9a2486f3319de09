-- Intro offers: introductions members offer, nominations included (agents.md §2.5).

-- name: intro_offers_insert_nomination
-- A nomination: an intro_offers row with context_type 'nomination' and no bounty (agents.md §2.5).
INSERT INTO intro_offers (offering_user_id, prospect_name, prospect_company, prospect_title,
                          prospect_context, context_type, bounty_credits)
VALUES (%(user_id)s, %(prospect_name)s, %(prospect_company)s, %(prospect_title)s, %(prospect_context)s,
        'nomination', 0)
RETURNING id;
