@plugins
Feature: Plugins: listed, disabled on request, and isolated when they fail
  Plugins add rule packs and guidance. The built-in antibody plugins load through the same
  entry points as a plugin from another package. A plugin can be left out with
  --disable-plugin NAME; a plugin whose guidance fails costs only its own guidance: the
  evaluation completes and names the failing plugin.

  Background:
    Given a patient "PLUG"
    And the patient has antibodies anti-TIF1g and anti-MDA5
    And the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 45  | 150      | 44   | 72   | 3                | 4        |
      | day 100 | 120      | 46   | 74   | 2.5              | 3        |

  Scenario Outline: The built-in plugins are listed (<plugin>)
    When the command "jdm-cds plugins list" is run
    Then the command exits with 0
    And the output says "<plugin>"

    Examples:
      | plugin         |
      | anti_mda5      |
      | anti_nxp2      |
      | anti_tif1g     |
      | anti_mi2       |
      | anti_sae       |
      | anti_srp_hmgcr |

  Scenario: A disabled plugin gives neither guidance nor rules, the others still do
    Given the plugin "anti_tif1g" is disabled
    When the patient is evaluated
    Then there is no guidance from "anti_tif1g"
    And there is no recommendation "3 months into JAK-inhibitor treatment"
    And there is guidance "interstitial lung disease" from "anti_mda5"
    And cid.printo is not met

  Scenario: The same plugin, enabled, advises reassessment at 3 months
    When the patient is evaluated
    Then there is guidance "low expected response" from "anti_tif1g"
    And there is a recommendation "3 months into JAK-inhibitor treatment"

  Scenario: --disable-plugin on the command line
    When the command "jdm-cds evaluate {patient file} --disable-plugin anti_mda5 --format json" is run
    Then the command exits with 0
    And the output says "anti_tif1g.low_expected_response"
    And the output does not say "anti_mda5"

  Scenario: Disabling a plugin that is not installed is a usage error
    When the command "jdm-cds evaluate {patient file} --disable-plugin anti_xyz" is run
    Then the command exits with 2
    And the error output says "cannot disable anti_xyz"

  Scenario: A plugin whose guidance fails does not stop the evaluation
    Given an installed plugin "broken" whose guidance fails
    When the patient is evaluated
    Then a plugin error names "broken"
    And cid.printo is not met
    And there is guidance "interstitial lung disease" from "anti_mda5"
