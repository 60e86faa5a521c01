"""Real Australian localities (name, state, postcode, latitude, longitude, kind).

Hand-written from public gazetteer knowledge: each locality with its own postcode and an
approximate centre (3 decimals, inside the locality). ``kind`` is ``city`` (metropolitan),
``regional`` (a regional centre or destination town) or ``highway`` (a highway stop).
"""

from __future__ import annotations

from typing import NamedTuple


class Locality(NamedTuple):
    name: str
    state: str
    postcode: str
    latitude: float
    longitude: float
    kind: str


_TABLE = """
Sydney|NSW|2000|-33.868|151.209|city
Parramatta|NSW|2150|-33.815|151.001|city
Penrith|NSW|2750|-33.751|150.694|city
Liverpool|NSW|2170|-33.920|150.924|city
Chatswood|NSW|2067|-33.797|151.181|city
Bondi Junction|NSW|2022|-33.892|151.247|city
Hornsby|NSW|2077|-33.703|151.099|city
Campbelltown|NSW|2560|-34.065|150.814|city
Castle Hill|NSW|2154|-33.730|151.004|city
Sutherland|NSW|2232|-34.031|151.058|city
Mascot|NSW|2020|-33.929|151.187|city
Blacktown|NSW|2148|-33.771|150.906|city
Manly|NSW|2095|-33.797|151.285|city
Newtown|NSW|2042|-33.897|151.179|city
Newcastle|NSW|2300|-32.927|151.776|city
Wollongong|NSW|2500|-34.425|150.893|city
Gosford|NSW|2250|-33.425|151.342|regional
Tuggerah|NSW|2259|-33.307|151.416|regional
Maitland|NSW|2320|-32.733|151.557|regional
Cessnock|NSW|2325|-32.834|151.356|regional
Port Macquarie|NSW|2444|-31.430|152.909|regional
Coffs Harbour|NSW|2450|-30.296|153.114|regional
Grafton|NSW|2460|-29.690|152.933|regional
Ballina|NSW|2478|-28.866|153.566|regional
Byron Bay|NSW|2481|-28.643|153.612|regional
Lismore|NSW|2480|-28.813|153.277|regional
Tweed Heads|NSW|2485|-28.176|153.542|regional
Taree|NSW|2430|-31.911|152.461|regional
Kempsey|NSW|2440|-31.079|152.842|highway
Bulahdelah|NSW|2423|-32.408|152.211|highway
Macksville|NSW|2447|-30.708|152.920|highway
Tamworth|NSW|2340|-31.092|150.932|regional
Armidale|NSW|2350|-30.513|151.666|regional
Glen Innes|NSW|2370|-29.735|151.739|highway
Dubbo|NSW|2830|-32.243|148.605|regional
Orange|NSW|2800|-33.284|149.100|regional
Bathurst|NSW|2795|-33.420|149.578|regional
Lithgow|NSW|2790|-33.482|150.158|highway
Katoomba|NSW|2780|-33.712|150.312|regional
Goulburn|NSW|2580|-34.755|149.718|highway
Yass|NSW|2582|-34.839|148.910|highway
Gundagai|NSW|2722|-35.066|148.105|highway
Wagga Wagga|NSW|2650|-35.118|147.369|regional
Albury|NSW|2640|-36.081|146.916|regional
Holbrook|NSW|2644|-35.729|147.312|highway
Tarcutta|NSW|2652|-35.277|147.737|highway
Queanbeyan|NSW|2620|-35.353|149.232|regional
Cooma|NSW|2630|-36.235|149.125|regional
Jindabyne|NSW|2627|-36.416|148.622|regional
Batemans Bay|NSW|2536|-35.708|150.175|regional
Nowra|NSW|2541|-34.873|150.600|regional
Ulladulla|NSW|2539|-35.358|150.472|highway
Merimbula|NSW|2548|-36.892|149.909|regional
Moruya|NSW|2537|-35.910|150.081|highway
Kiama|NSW|2533|-34.671|150.854|regional
Mittagong|NSW|2575|-34.450|150.446|highway
Griffith|NSW|2680|-34.288|146.051|regional
Broken Hill|NSW|2880|-31.957|141.466|regional
Mudgee|NSW|2850|-32.596|149.587|regional
Moree|NSW|2400|-29.466|149.845|regional
Narrabri|NSW|2390|-30.325|149.783|highway
Scone|NSW|2337|-32.051|150.869|highway
Muswellbrook|NSW|2333|-32.265|150.890|highway
Parkes|NSW|2870|-33.137|148.175|regional
Cowra|NSW|2794|-33.834|148.691|highway
Deniliquin|NSW|2710|-35.530|144.960|regional
Hay|NSW|2711|-34.510|144.843|highway
Coonabarabran|NSW|2357|-31.273|149.278|highway
Melbourne|VIC|3000|-37.814|144.963|city
Docklands|VIC|3008|-37.817|144.946|city
Richmond|VIC|3121|-37.823|145.000|city
St Kilda|VIC|3182|-37.868|144.981|city
Box Hill|VIC|3128|-37.819|145.122|city
Dandenong|VIC|3175|-37.987|145.215|city
Frankston|VIC|3199|-38.144|145.126|city
Ringwood|VIC|3134|-37.815|145.229|city
Glen Waverley|VIC|3150|-37.878|145.164|city
Footscray|VIC|3011|-37.800|144.900|city
Sunshine|VIC|3020|-37.788|144.832|city
Werribee|VIC|3030|-37.900|144.661|city
Epping|VIC|3076|-37.650|145.030|city
Broadmeadows|VIC|3047|-37.682|144.919|city
Cranbourne|VIC|3977|-38.100|145.283|city
Essendon|VIC|3040|-37.756|144.918|city
Geelong|VIC|3220|-38.149|144.361|city
Torquay|VIC|3228|-38.331|144.326|regional
Apollo Bay|VIC|3233|-38.757|143.670|regional
Warrnambool|VIC|3280|-38.383|142.482|regional
Portland|VIC|3305|-38.344|141.604|regional
Ballarat|VIC|3350|-37.562|143.850|regional
Bendigo|VIC|3550|-36.757|144.279|regional
Ararat|VIC|3377|-37.284|142.928|highway
Horsham|VIC|3400|-36.712|142.199|regional
Nhill|VIC|3418|-36.333|141.650|highway
Mildura|VIC|3500|-34.208|142.125|regional
Swan Hill|VIC|3585|-35.339|143.554|regional
Echuca|VIC|3564|-36.131|144.751|regional
Shepparton|VIC|3630|-36.380|145.399|regional
Seymour|VIC|3660|-37.027|145.139|highway
Euroa|VIC|3666|-36.755|145.571|highway
Benalla|VIC|3672|-36.551|145.984|highway
Wangaratta|VIC|3677|-36.358|146.312|highway
Wodonga|VIC|3690|-36.122|146.888|regional
Bright|VIC|3741|-36.730|146.960|regional
Traralgon|VIC|3844|-38.195|146.540|regional
Morwell|VIC|3840|-38.236|146.395|regional
Sale|VIC|3850|-38.107|147.068|regional
Bairnsdale|VIC|3875|-37.823|147.610|regional
Lakes Entrance|VIC|3909|-37.881|147.981|regional
Orbost|VIC|3888|-37.708|148.457|highway
Warragul|VIC|3820|-38.160|145.931|highway
Wonthaggi|VIC|3995|-38.606|145.591|regional
Cowes|VIC|3922|-38.452|145.238|regional
Healesville|VIC|3777|-37.654|145.515|regional
Castlemaine|VIC|3450|-37.064|144.217|regional
Kyneton|VIC|3444|-37.248|144.452|highway
Daylesford|VIC|3460|-37.342|144.143|regional
Colac|VIC|3250|-38.340|143.585|regional
Hamilton|VIC|3300|-37.745|142.022|regional
Brisbane City|QLD|4000|-27.468|153.028|city
Fortitude Valley|QLD|4006|-27.457|153.035|city
South Brisbane|QLD|4101|-27.480|153.020|city
Chermside|QLD|4032|-27.385|153.031|city
Carindale|QLD|4152|-27.503|153.101|city
Indooroopilly|QLD|4068|-27.499|152.973|city
Ipswich|QLD|4305|-27.614|152.758|city
Logan Central|QLD|4114|-27.640|153.109|city
North Lakes|QLD|4509|-27.234|153.021|city
Surfers Paradise|QLD|4217|-28.002|153.430|city
Southport|QLD|4215|-27.967|153.400|city
Robina|QLD|4226|-28.077|153.385|city
Coolangatta|QLD|4225|-28.168|153.536|city
Maroochydore|QLD|4558|-26.653|153.091|regional
Noosa Heads|QLD|4567|-26.394|153.090|regional
Caloundra|QLD|4551|-26.803|153.121|regional
Gympie|QLD|4570|-26.190|152.666|highway
Toowoomba|QLD|4350|-27.561|151.954|regional
Warwick|QLD|4370|-28.215|152.035|highway
Stanthorpe|QLD|4380|-28.655|151.934|highway
Goondiwindi|QLD|4390|-28.547|150.307|highway
Dalby|QLD|4405|-27.181|151.263|highway
Roma|QLD|4455|-26.573|148.787|regional
Maryborough|QLD|4650|-25.540|152.702|regional
Hervey Bay|QLD|4655|-25.288|152.845|regional
Bundaberg|QLD|4670|-24.866|152.349|regional
Childers|QLD|4660|-25.237|152.278|highway
Gladstone|QLD|4680|-23.843|151.257|regional
Miriam Vale|QLD|4677|-24.329|151.560|highway
Rockhampton|QLD|4700|-23.378|150.510|regional
Yeppoon|QLD|4703|-23.126|150.744|regional
Mackay|QLD|4740|-21.141|149.186|regional
Sarina|QLD|4737|-21.421|149.217|highway
Proserpine|QLD|4800|-20.401|148.581|highway
Airlie Beach|QLD|4802|-20.268|148.718|regional
Bowen|QLD|4805|-20.013|148.247|highway
Townsville|QLD|4810|-19.259|146.817|regional
Ingham|QLD|4850|-18.650|146.157|highway
Cardwell|QLD|4849|-18.264|146.025|highway
Cairns|QLD|4870|-16.920|145.771|regional
Port Douglas|QLD|4877|-16.484|145.465|regional
Mount Isa|QLD|4825|-20.726|139.492|regional
Emerald|QLD|4720|-23.527|148.160|regional
Longreach|QLD|4730|-23.442|144.250|regional
Perth|WA|6000|-31.952|115.860|city
Fremantle|WA|6160|-32.056|115.747|city
Joondalup|WA|6027|-31.745|115.766|city
Scarborough|WA|6019|-31.894|115.757|city
Subiaco|WA|6008|-31.948|115.826|city
Midland|WA|6056|-31.889|116.010|city
Cannington|WA|6107|-32.017|115.935|city
Rockingham|WA|6168|-32.279|115.730|city
Mandurah|WA|6210|-32.535|115.745|regional
Bunbury|WA|6230|-33.327|115.641|regional
Busselton|WA|6280|-33.652|115.345|regional
Margaret River|WA|6285|-33.955|115.075|regional
Albany|WA|6330|-35.023|117.884|regional
Esperance|WA|6450|-33.861|121.891|regional
Kalgoorlie|WA|6430|-30.749|121.466|regional
Norseman|WA|6443|-32.197|121.780|highway
Northam|WA|6401|-31.652|116.671|highway
Geraldton|WA|6530|-28.775|114.615|regional
Cervantes|WA|6511|-30.498|115.066|highway
Kalbarri|WA|6536|-27.712|114.165|regional
Carnarvon|WA|6701|-24.884|113.657|regional
Karratha|WA|6714|-20.736|116.846|regional
Port Hedland|WA|6721|-20.310|118.606|regional
Broome|WA|6725|-17.962|122.236|regional
Collie|WA|6225|-33.362|116.156|highway
Williams|WA|6391|-33.026|116.880|highway
Merredin|WA|6415|-31.482|118.278|highway
Adelaide|SA|5000|-34.928|138.600|city
Glenelg|SA|5045|-34.980|138.515|city
Norwood|SA|5067|-34.921|138.631|city
Port Adelaide|SA|5015|-34.846|138.505|city
Mawson Lakes|SA|5095|-34.808|138.610|city
Oaklands Park|SA|5046|-35.006|138.545|city
Elizabeth|SA|5112|-34.717|138.670|city
Mount Barker|SA|5251|-35.068|138.859|regional
Hahndorf|SA|5245|-35.029|138.808|regional
Victor Harbor|SA|5211|-35.552|138.617|regional
Murray Bridge|SA|5253|-35.120|139.274|highway
Tailem Bend|SA|5260|-35.255|139.455|highway
Keith|SA|5267|-36.099|140.356|highway
Bordertown|SA|5268|-36.311|140.771|highway
Kingston SE|SA|5275|-36.828|139.851|highway
Mount Gambier|SA|5290|-37.829|140.783|regional
Naracoorte|SA|5271|-36.958|140.741|regional
Tanunda|SA|5352|-34.523|138.960|regional
Clare|SA|5453|-33.834|138.611|regional
Port Augusta|SA|5700|-32.493|137.783|regional
Port Pirie|SA|5540|-33.185|138.017|regional
Whyalla|SA|5600|-33.033|137.576|regional
Port Lincoln|SA|5606|-34.727|135.860|regional
Ceduna|SA|5690|-32.126|133.676|highway
Coober Pedy|SA|5723|-29.013|134.755|highway
Renmark|SA|5341|-34.176|140.747|regional
Hobart|TAS|7000|-42.882|147.327|city
Sandy Bay|TAS|7005|-42.894|147.325|city
Glenorchy|TAS|7010|-42.832|147.276|city
Kingston|TAS|7050|-42.976|147.308|regional
Launceston|TAS|7250|-41.437|147.139|regional
Devonport|TAS|7310|-41.180|146.351|regional
Burnie|TAS|7320|-41.053|145.906|regional
Ulverstone|TAS|7315|-41.157|146.172|regional
Campbell Town|TAS|7210|-41.930|147.493|highway
Oatlands|TAS|7120|-42.300|147.369|highway
St Helens|TAS|7216|-41.320|148.240|regional
Swansea|TAS|7190|-42.125|148.073|highway
Queenstown|TAS|7467|-42.080|145.555|regional
Strahan|TAS|7468|-42.153|145.327|regional
Smithton|TAS|7330|-40.844|145.121|regional
Canberra|ACT|2601|-35.281|149.129|city
Braddon|ACT|2612|-35.272|149.135|city
Belconnen|ACT|2617|-35.238|149.066|city
Phillip|ACT|2606|-35.345|149.087|city
Greenway|ACT|2900|-35.417|149.066|city
Gungahlin|ACT|2912|-35.185|149.133|city
Kingston|ACT|2604|-35.315|149.145|city
Fyshwick|ACT|2609|-35.327|149.175|city
Dickson|ACT|2602|-35.250|149.140|city
Darwin City|NT|0800|-12.463|130.842|city
Palmerston|NT|0830|-12.480|130.984|city
Casuarina|NT|0810|-12.375|130.882|city
Katherine|NT|0850|-14.465|132.263|regional
Tennant Creek|NT|0860|-19.649|134.191|highway
Alice Springs|NT|0870|-23.698|133.881|regional
Adelaide River|NT|0846|-13.238|131.105|highway
Mataranka|NT|0852|-14.923|133.067|highway
"""


def _parse(table: str) -> tuple[Locality, ...]:
    out = []
    for line in table.strip().splitlines():
        name, state, postcode, lat, lon, kind = line.split("|")
        out.append(Locality(name, state, postcode, float(lat), float(lon), kind))
    return tuple(out)


LOCALITIES: tuple[Locality, ...] = _parse(_TABLE)
KINDS = ("city", "regional", "highway")
