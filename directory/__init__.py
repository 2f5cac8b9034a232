"""People, schools, groups, roles and who may write to whom."""
