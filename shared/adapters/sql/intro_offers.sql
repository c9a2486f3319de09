-- The intro flows (agents.md §12): intro offers members volunteer (nominations included, §2.5), intro
-- opportunities (a connector asked to introduce a prospect) and connection requests (a member asked whether
-- they want to meet someone). Every statement of a member's tool names the acting member: a row is only
-- ever read or changed by the member it is addressed to (or its requestor).

-- name: intro_offers_insert_nomination
-- A nomination: an intro_offers row with context_type 'nomination' and no bounty (agents.md §2.5).
INSERT INTO intro_offers (offering_user_id, prospect_name, prospect_company, prospect_title,
                          prospect_context, context_type, bounty_credits)
VALUES (%(user_id)s, %(prospect_name)s, %(prospect_company)s, %(prospect_title)s, %(prospect_context)s,
        'nomination', 0)
RETURNING id;

-- name: intro_offers_insert
-- offer_introduction (agents.md §12.4 step 1): the offering member volunteers an intro; it waits on the
-- introducee (a nomination, with no introducee yet, when it answers nobody's request).
INSERT INTO intro_offers (offering_user_id, introducee_user_id, prospect_name, prospect_company,
                          prospect_title, prospect_context, context_type, context_id, bounty_credits,
                          expires_at)
VALUES (%(user_id)s, %(introducee_user_id)s, %(prospect_name)s, %(prospect_company)s, %(prospect_title)s,
        %(prospect_context)s, %(context_type)s, %(context_id)s, 0, %(expires_at)s)
RETURNING id, status, expires_at;

-- name: intro_offers_of_member
-- One offer as the acting member sees it: only when they are its introducee or its offering member.
SELECT id, status, context_type, expires_at,
       CASE WHEN introducee_user_id = %(user_id)s THEN 'introducee' ELSE 'connector' END AS role
  FROM intro_offers
 WHERE id = %(offer_id)s AND (introducee_user_id = %(user_id)s OR offering_user_id = %(user_id)s);

-- name: intro_offers_introducee_respond
-- accept_intro_offer / decline_intro_offer (§12.4 steps 2-3): only the introducee, only while it waits on
-- them and has not expired. Accepting sets the bounty: the introducee's warm_intro_bounty when they are an
-- active innovator, else 0.
UPDATE intro_offers AS o
   SET status = %(status)s::varchar,
       introducee_response = %(response)s,
       bounty_credits = CASE WHEN %(status)s::varchar = 'pending_connector_confirmation'
                             THEN coalesce((SELECT i.warm_intro_bounty FROM innovators AS i
                                             WHERE i.user_id = o.introducee_user_id AND i.active), 0)
                             ELSE o.bounty_credits END
 WHERE o.id = %(offer_id)s AND o.introducee_user_id = %(user_id)s
   AND o.status = 'pending_introducee_response' AND o.expires_at > %(now)s
RETURNING o.id, o.status, o.offering_user_id, o.introducee_user_id, o.bounty_credits, o.context_type,
          o.context_id;

-- name: intro_offers_connector_respond
-- confirm_intro_offer / decline as the connector (§12.4 steps 4-5): only the offering member, only after the
-- introducee accepted, before expiry.
UPDATE intro_offers
   SET status = %(status)s, connector_confirmation = %(response)s
 WHERE id = %(offer_id)s AND offering_user_id = %(user_id)s
   AND status = 'pending_connector_confirmation' AND expires_at > %(now)s
RETURNING id, status, offering_user_id, introducee_user_id, bounty_credits, context_type, context_id;

-- name: intro_opportunities_of_member
-- One intro opportunity, only when the acting member is its connector.
SELECT id, status, expires_at
  FROM intro_opportunities
 WHERE id = %(opportunity_id)s AND connector_user_id = %(user_id)s;

-- name: intro_opportunities_respond
-- accept_intro_opportunity / decline_intro_opportunity (§12.2): the connector's answer while it is open.
UPDATE intro_opportunities
   SET status = %(status)s, connector_response = %(response)s
 WHERE id = %(opportunity_id)s AND connector_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying')
   AND (expires_at IS NULL OR expires_at > %(now)s)
RETURNING id, status, connector_user_id, innovator_id, prospect_id, bounty_credits;

-- name: connection_requests_of_member
-- One connection request, only when the acting member is its introducee.
SELECT id, status, expires_at
  FROM connection_requests
 WHERE id = %(request_id)s AND introducee_user_id = %(user_id)s;

-- name: connection_requests_respond
-- accept_connection_request / decline_connection_request (§12.3): the introducee's answer while it is open.
UPDATE connection_requests
   SET status = %(status)s, introducee_response = %(response)s
 WHERE id = %(request_id)s AND introducee_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying')
   AND expires_at > %(now)s
RETURNING id, status, introducee_user_id, requestor_user_id, requestor_prospect_id, bounty_credits;

-- name: connection_requests_requestor_of
-- Who asked for a connection request the acting member is the introducee of (an intro offer in answer to it).
SELECT requestor_user_id
  FROM connection_requests
 WHERE id = %(request_id)s AND introducee_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying');

-- name: connection_requests_insert
-- request_connection (agents.md §5 tool 5): the acting member (an innovator) asks to meet another verified,
-- reachable member; their own name, company and title are the requestor's. Nothing when the target is not
-- such a member, is themselves, or already has an open request from them.
INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name, requestor_company,
                                 requestor_title, requestor_linkedin_url, intro_context, bounty_credits,
                                 expires_at)
SELECT target.id, me.id, coalesce(nullif(concat_ws(' ', me.first_name, me.last_name), ''), 'A member'),
       me.company, me.title, me.linkedin_url, %(intro_context)s, %(bounty_credits)s, %(expires_at)s
  FROM users AS me
  JOIN users AS target ON target.id = %(target_user_id)s
 WHERE me.id = %(user_id)s
   AND target.id <> me.id AND target.verified AND NOT target.opted_out
   AND NOT EXISTS (SELECT 1 FROM connection_requests AS c
                    WHERE c.requestor_user_id = me.id AND c.introducee_user_id = target.id
                      AND c.status IN ('open', 'presented', 'clarifying', 'accepted'))
RETURNING id, status, expires_at;

-- name: connection_requests_open_between
-- The acting member's open connection request to one member, if any (request_connection twice).
SELECT id, status
  FROM connection_requests
 WHERE requestor_user_id = %(user_id)s AND introducee_user_id = %(target_user_id)s
   AND status IN ('open', 'presented', 'clarifying', 'accepted');

-- name: community_requests_routed_to_member
-- A community request that reached the acting member as an expert (routed to them, asked of them, or on
-- their priorities) and is still open, with who asked it: the introducee of an intro offer made in answer
-- to it, and the request an expert's answer is recorded against. Never the member's own request.
SELECT r.id, r.requesting_user_id, r.status
  FROM community_requests AS r
 WHERE r.id = %(request_id)s
   AND r.requesting_user_id IS DISTINCT FROM %(user_id)s
   AND r.status IN ('open', 'presented', 'clarifying', 'responses_received')
   AND (r.target_user_ids @> ARRAY[%(user_id)s::uuid]
        OR EXISTS (SELECT 1 FROM community_request_experts AS e
                    WHERE e.request_id = r.id AND e.expert_user_id = %(user_id)s)
        OR EXISTS (SELECT 1 FROM user_priorities AS p
                    WHERE p.user_id = %(user_id)s AND p.item_type = 'community_request' AND p.item_id = r.id));
