-- The Concierge and the Innovator (issue 16): a member's stated goal lives in columns made for
-- it (agents.md §4.3 store_user_goal, §4.2 context), not in response_pattern; the innovator
-- profile gains the fields update_innovator_profile writes (agents.md §5).

ALTER TABLE public.users
  ADD COLUMN goal text,
  ADD COLUMN goal_type varchar(30)
    CONSTRAINT users_goal_type_check
      CHECK (goal_type IS NULL OR goal_type IN ('career', 'business_growth', 'learning', 'networking')),
  ADD COLUMN goal_updated_at timestamptz;

ALTER TABLE public.innovators
  ADD COLUMN solution_name varchar(255),
  ADD COLUMN pricing_model text,
  ADD COLUMN differentiation text;

SELECT public.yp_secure_public();
