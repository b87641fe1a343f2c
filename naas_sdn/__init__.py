"""naas-sdn: Networking-as-a-Service SDN controller."""
