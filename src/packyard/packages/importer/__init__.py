"""Moving an existing index in (`packyard import`): files as other indexes kept them, legacy
names, upload times and yanks included, with the same archive checks as uploads."""
