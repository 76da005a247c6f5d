"""Cases: intake, parties and mediators, the case's clocks and states, party links, retention."""
