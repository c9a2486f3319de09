-- A member can wait on one community request through two agents (issue 11, branch e2e-stories).
--
-- The Solution Saga's community request is absorbed by an open duplicate the member already asked
-- through the Concierge (agents.md §7 dedupe). With one requester row per (request, member) the
-- saga's row was dropped by ON CONFLICT DO NOTHING, the member stayed a Concierge requester only,
-- and expert answers never reached the saga as process_community_response tasks. A requester is
-- now (request, member, requesting agent): each agent the member asked through is told.

ALTER TABLE public.community_request_requesters
  DROP CONSTRAINT IF EXISTS community_request_requesters_pkey;
ALTER TABLE public.community_request_requesters
  ADD CONSTRAINT community_request_requesters_pkey PRIMARY KEY (request_id, user_id, requesting_agent_type);
