-- wrk script for bench/directory_http.sh: Annuaire name-prefix searches with a session cookie.
local prefixes = {"mar","ber","du","le+g","lef","zo","n%27d","da+s","rob","pet","moreau","gar",
                  "ch","fo","vin","lu","cl","bo","gi","rou"}
local cookie = os.getenv("PREAU_COOKIE")
request = function()
  local q = prefixes[math.random(#prefixes)]
  return wrk.format("GET", "/annuaire/?nom=" .. q, {["Cookie"] = cookie})
end
