-- The Solution Saga (issue 11, branch saga): every piece of a workflow's state lives on its
-- solution_workflows row (agents.md §9). Research runs on Anthropic's web search tool
-- (decisions A11), not Perplexity: its results get a column of their own and
-- perplexity_results stays unused. The row also names the event that started it (a
-- redelivered or republished trigger never starts a second workflow), the community request
-- it waits on, what it told the member first and last, and the step it is at.

ALTER TABLE public.solution_workflows
  ADD COLUMN source_event_id uuid,
  ADD COLUMN web_research_status varchar(20) NOT NULL DEFAULT 'not_run'
    CONSTRAINT solution_workflows_web_research_status_check
      CHECK (web_research_status IN ('not_run', 'searched', 'no_results', 'off', 'unavailable')),
  ADD COLUMN web_results jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN community_request_id uuid REFERENCES public.community_requests (id) ON DELETE SET NULL,
  ADD COLUMN initial_findings jsonb,
  ADD COLUMN final_recommendations jsonb,
  ADD COLUMN cancelled_at timestamptz,
  ADD CONSTRAINT solution_workflows_current_step_check CHECK (current_step IN (
    'initial_research', 'evaluate_initial', 'awaiting_expert_responses', 'final_evaluation',
    'complete', 'cancelled'));

CREATE UNIQUE INDEX idx_workflows_source_event
  ON public.solution_workflows (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE INDEX idx_workflows_community_request
  ON public.solution_workflows (community_request_id) WHERE community_request_id IS NOT NULL;

SELECT public.yp_secure_public();
