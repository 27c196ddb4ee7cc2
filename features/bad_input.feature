@bad_input
Feature: Invalid patient data is refused with a clear message
  A misspelt field, a value out of range or an impossible date is an error, never quietly
  dropped or guessed: a missing CK or a wrong dose changes what the rules conclude. Each
  problem is one line naming the file and the field, and the tool never shows a Python
  traceback. On the command line the valid patients are still evaluated (exit code 1).

  Scenario Outline: A visit value out of range or of the wrong kind (<why>)
    Given a patient "BAD"
    And a visit on <day> with <field> <value>
    When the patient is evaluated
    Then the patient is rejected with "<message>"

    Examples:
      | why                      | day        | field            | value | message                                                       |
      | negative CK              | 2020-01-10 | CK (U/L)         | -5    | visits[0].ck_u_l: must be >= 0 (got -5)                       |
      | CMAS above its maximum   | 2020-01-10 | CMAS             | 53    | visits[0].cmas: must be <= 52 (got 53)                        |
      | VAS above 10 cm          | 2020-01-10 | physician global | 11    | visits[0].physician_global_vas: must be <= 10 (got 11)        |
      | text for a number        | 2020-01-10 | CK (U/L)         | high  | visits[0].ck_u_l: expected a number (got the string 'high')   |
      | impossible date          | 2020-13-01 | CK (U/L)         | 100   | visits[0].date: invalid date '2020-13-01' (expected YYYY-MM-DD) |
      | unknown adverse event    | 2020-01-10 | adverse events   | shingles | visits[0].adverse_events[0]: unknown adverse event 'shingles' |

  Scenario: A treatment that stops before it starts
    Given a patient "BAD"
    And the treatments:
      | drug        | start      | stop       |
      | ruxolitinib | 2020-02-01 | 2020-01-01 |
    And a visit on 2020-01-10 with CK 100
    When the patient is evaluated
    Then the patient is rejected with "treatments[0].stop: stop 2020-01-01 is before start 2020-02-01"

  Scenario: An unknown drug and an unknown antibody are both reported
    Given a patient "BAD"
    And the patient has antibody anti-XYZ
    And the patient is treated with rituximabb from 2020-01-01
    And a visit on 2020-01-10 with CK 100
    When the patient is evaluated
    Then the patient is rejected with "treatments[0].drug: unknown drug 'rituximabb'"
    And the patient is rejected with "antibodies[0]: unknown antibody 'anti-XYZ'"

  Scenario: A prednisone dose given in two units at once
    Given a patient "BAD"
    And a visit on 2020-01-10 with prednisone (mg/kg/day) 1, prednisone (mg/day) 20
    When the patient is evaluated
    Then the patient is rejected with "give prednisone_mg_per_kg_day or prednisone_mg_per_day, not both"

  Scenario: A misspelt field in a patient file, on the command line
    Given a patient file "typo.yaml" containing:
      """
      id: T1
      visits:
        - {date: 2020-01-10, ckk: 100}
      """
    When the command "jdm-cds evaluate {patient file}" is run
    Then the command exits with 1
    And the error output says "typo.yaml: visits[0].ckk: unknown field (allowed: adverse_events"

  Scenario: A YAML syntax error names its line
    Given a patient file "broken.yaml" containing:
      """
      id: T2
      visits:
        - date: 2020-01-10
          ck_u_l: [100
      """
    When the patient is evaluated
    Then the patient is rejected with "broken.yaml: -: yaml syntax error at line 4"

  Scenario: An empty file
    Given a patient file "empty.yaml" containing:
      """
      """
    When the command "jdm-cds evaluate {patient file}" is run
    Then the command exits with 1
    And the error output says "empty.yaml: -: file is empty"

  Scenario: One invalid file does not stop the others from being evaluated
    When the command "jdm-cds evaluate tests/data/bad_patients/negative_value.yaml examples/patient-mda5.yaml" is run
    Then the command exits with 1
    And the error output says "negative_value.yaml"
    And the output says "Patient EX-MDA5"

  Scenario: A file that does not exist
    When the command "jdm-cds evaluate no/such/patient.yaml" is run
    Then the command exits with 1
    And the error output says "no/such/patient.yaml: -: cannot read file"
