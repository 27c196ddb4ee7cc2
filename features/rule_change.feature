@skin
Feature: What a rule change would change, on a cohort, before it ships
  A clinician reviewing an edit to a threshold sees its effect on real patients first:
  "jdm-cds diff" evaluates the cohort under the installed rule packs and under the edited
  ones, and lists every judgement that changes, with the patients.

  @cid.printo_skin @cid.within_6_months
  Scenario: Allowing a skin DAS of 1 in the study's definition of CID
    The study's CID requires a skin DAS of 0. None of the ten study cases has a skin DAS of
    1 at its last visit, so they do not change; RC-1, in PRINTO CID with a skin DAS of 1 on
    day 109 of ruxolitinib, becomes CID in the study's sense, and so CID within 6 months.
    Given the core rule packs with "das_skin, eq: 0" changed to "das_skin, lte: 1" in "cid.yaml"
    When the cohort "features/study_cases, features/rule_change" is compared under the changed rule packs
    Then the rule change shows:
      | judgement           | before        | after | patients |
      | cid.printo_skin     | not_met       | met   | RC-1     |
      | cid.within_6_months | indeterminate | met   | RC-1     |

  Scenario: The same rule packs change nothing
    When the cohort "features/study_cases, features/rule_change" is compared under the same rule packs
    Then the rule change changes nothing
