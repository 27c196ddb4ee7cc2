@step_library
Feature: A scenario written from features/README.md alone
  Written as a new user would, using only the sentences, columns and dates that
  features/README.md documents, to check that the documentation is enough.

  @withdrawal @withdrawal.steroid_stop @safety.zoster_risk
  Scenario: Tapering on baricitinib, judged on two dates
    Given the patient:
      | id         | README-1   |
      | antibodies | anti-NXP2  |
      | sex        | male       |
      | birth date | 2010-04-02 |
    And the treatments:
      | drug        | from                               | until  | dose (mg/day) |
      | baricitinib | 2022-05-02                         |        | 4             |
      | prednisone  | 200 days before JAK inhibitor start |        |               |
    And the visits:
      | date                               | weight (kg) | CK (U/L) | CMAS | MMT8 | physician global | skin DAS | prednisone (mg/day) | IFN-alpha (fg/mL) |
      | 14 days before JAK inhibitor start | 30          | 1200     | 25   | 55   | 6.5              | 4        | 30                  | 900               |
      | day 120 after JAK inhibitor start  | 31          | 110      | 50   | 79   | 0.2              | 0        | 9                   |                   |
      | day 200                            | 32          | 95       | 51   | 80   | 0.1              | 0        | 6.4                 | 5                 |
    When the patient is evaluated at day 150
    Then the evaluation visit is 2022-08-30
    And cid.printo_skin is met
    And withdrawal.steroid_stop is not met
    And withdrawal.steroid_taper has steroid_dose_now about 0.29
    When the patient is evaluated
    Then the evaluation visit is day 200
    And withdrawal.steroid_stop is met
    And withdrawal.steroid_stop has steroid_dose_now 0.2
    And there is a recommendation "Consider stopping prednisone"
    And there is a warning alert "Herpes zoster risk"
    And there is 1 info alert "not a marker of response"
    And there are no critical alerts
    And there is guidance "calcinosis" from "anti_nxp2"
