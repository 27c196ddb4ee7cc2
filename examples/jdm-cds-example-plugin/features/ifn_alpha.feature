Feature: Interferon-alpha is not a response marker on JAK inhibitors (example plugin)

  Scenario: IFN-alpha measured on a JAK inhibitor raises the plugin's alert and guidance
    Given a patient on ruxolitinib from 2023-06-01
    And a visit on 2023-09-04 with IFN-alpha 40 fg/mL
    When the patient is evaluated
    Then the alert "example_ifn.measured_on_jak" says "IFN-α 40 fg/mL"
    And the guidance "example_ifn.not_a_response_marker" is given by "example_ifn"

  Scenario: no IFN-alpha at the evaluation visit, no alert
    Given a patient on ruxolitinib from 2023-06-01
    And a visit on 2023-09-04 with no IFN-alpha
    When the patient is evaluated
    Then there is no alert "example_ifn.measured_on_jak"
