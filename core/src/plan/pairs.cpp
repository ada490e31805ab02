#include "cle/core/pairs.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cle/core/error.h"
#include "cle/core/text_file.h"
#include "support/json_text.h"

namespace cle::core {

namespace {

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, sep)) parts.push_back(part);
    if (!s.empty() && s.back() == sep) parts.emplace_back();
    return parts;
}

void checkGroup(const Group& g) {
    if (g.size() < 2) {
        std::string name = g.empty() ? "(empty)" : "'" + g.front() + "'";
        throw usageError("group " + name + " must have at least two layers");
    }
    for (const auto& n : g)
        if (n.empty()) throw usageError("a layer name in a group is empty");
}

}  // namespace

std::vector<Group> parseGroups(const std::string& text) {
    std::vector<Group> groups;
    for (const auto& part : split(text, ';')) {
        if (trim(part).empty()) continue;
        Group g;
        for (const auto& name : split(part, ',')) g.push_back(trim(name));
        checkGroup(g);
        groups.push_back(std::move(g));
    }
    if (groups.empty()) throw usageError("no layer groups given");
    return groups;
}

std::vector<Group> readGroupsFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw inputError("cannot open pairs file '" + path + "'");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) throw inputError("pairs file '" + path + "' is not valid JSON");
    std::vector<Group> groups;
    auto take = [&](const nlohmann::json& names) {
        if (!names.is_array()) throw inputError("pairs file '" + path + "': a group is not a list");
        Group g;
        for (const auto& n : names) {
            if (!n.is_string())
                throw inputError("pairs file '" + path + "': layer names must be strings");
            g.push_back(n.get<std::string>());
        }
        checkGroup(g);
        groups.push_back(std::move(g));
    };
    const bool regions =
        j.is_object() && j.contains("regions") && j["regions"].is_array() && !j["regions"].empty();
    if (j.is_object() && j.contains("groups") && j["groups"].is_array()) {
        for (const auto& g : j["groups"]) take(g);
    } else if (j.is_object() && j.contains("suggested") && j["suggested"].is_array()) {
        for (const auto& s : j["suggested"])
            if (s.is_object() && s.contains("layers")) take(s["layers"]);
    } else if (!regions) {
        throw inputError("pairs file '" + path + "' has no \"groups\" list");
    }
    if (groups.empty() && !regions) throw usageError("pairs file '" + path + "' lists no groups");
    return groups;
}

std::vector<RegionNames> readRegionsFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw inputError("cannot open pairs file '" + path + "'");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) throw inputError("pairs file '" + path + "' is not valid JSON");
    std::vector<RegionNames> regions;
    if (!j.is_object() || !j.contains("regions")) return regions;
    auto names = [&](const nlohmann::json& r, const char* key) {
        if (!r.is_object() || !r.contains(key) || !r[key].is_array() || r[key].empty())
            throw inputError("pairs file '" + path + "': a region needs a non-empty \"" + key +
                             "\" list");
        std::vector<std::string> out;
        for (const auto& n : r[key]) {
            if (!n.is_string())
                throw inputError("pairs file '" + path + "': layer names must be strings");
            out.push_back(n.get<std::string>());
        }
        return out;
    };
    if (!j["regions"].is_array())
        throw inputError("pairs file '" + path + "': \"regions\" is not a list");
    for (const auto& r : j["regions"]) regions.push_back({names(r, "sources"), names(r, "sinks")});
    return regions;
}

void writeGroupsFile(const std::string& path, const std::vector<Group>& groups,
                     const std::vector<RegionNames>& regions) {
    nlohmann::json j;
    j["groups"] = groups;
    for (const auto& r : regions)
        j["regions"].push_back({{"sources", r.sources}, {"sinks", r.sinks}});
    writeTextFileAtomically(path, json_text::dump(j, 2) + "\n");
}

std::vector<LayerPair> expandGroups(const std::vector<Group>& groups) {
    std::vector<LayerPair> pairs;
    for (const auto& g : groups) {
        checkGroup(g);
        for (size_t i = 0; i + 1 < g.size(); ++i) pairs.emplace_back(g[i], g[i + 1]);
    }
    return pairs;
}

}  // namespace cle::core
